"""How long to wait for ``run`` and ``evaluate_code``: the service's published rule.

The service answers a job within (docs/api.md, "Deadlines")::

    queue wait + job budget + backstop grace + reply margin

where the job budget is the command's limit, or for an evaluation the number of cases
times (the per-case limit + a per-case overhead), plus, with a checker, its runs (one per
case and one for its compile step) times (its limit + the same overhead). The client waits that long plus a margin
for the HTTP hop, so it hears the service's own answer (a 504 when the outcome is
unknown) instead of giving up first and guessing.

The client ships on its own (it needs only ``requests``), so it applies the rule to the
service's documented defaults rather than importing the server's ``protocol.budget``;
``tests/unit/test_budget.py`` checks that the two agree for the default configuration.
A service configured with a longer ``REPL_MAX_QUEUE_WAIT`` (or, for batches, a smaller
``REPL_MAX_CONCURRENT_JOBS``) needs a larger ``timeout`` floor on the client (see
:class:`~repl_client.ReplClient`).

A batch runs in waves of at most ``REPL_MAX_CONCURRENT_JOBS`` submissions, each wave no
longer than its longest submission's own deadline, so the wait for a batch is the number of
waves times that (without the HTTP hop, which is paid once).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["BATCH_WINDOW", "DEFAULT_CASE_TIMEOUT", "DEFAULT_JUDGE_TIMEOUT", "DEFAULT_RUN_TIMEOUT", "answer_timeout",
           "batch_answer_timeout", "judging_time"]

#: The service's default wall-clock limit for ``/run`` (docs/api.md, "/run").
DEFAULT_RUN_TIMEOUT = 30.0
#: The service's default wall-clock limit per ``/evaluate_code`` case (docs/api.md).
DEFAULT_CASE_TIMEOUT = 5.0
#: Seconds a job may wait for a free sandbox (the default ``REPL_MAX_QUEUE_WAIT``).
QUEUE_WAIT = 15.0
#: Per-case start-up and reporting allowance of an evaluation.
CASE_OVERHEAD = 0.5
#: Backstop grace plus reply margin: after the job's budget, the service has answered.
ANSWER_MARGIN = 5.0
#: The HTTP hop between the service's answer and ours.
HTTP_MARGIN = 5.0
#: Submissions of one batch the service runs at once (the default ``REPL_MAX_CONCURRENT_JOBS``).
BATCH_WINDOW = 32
#: The service's default limit of each run of a checker (the default ``REPL_JUDGE_TIMEOUT``).
DEFAULT_JUDGE_TIMEOUT = 5.0


def answer_timeout(kind: str, limit: float | None, cases: int = 1, judging: float = 0.0) -> float:
    """Seconds to wait for the answer to one ``run`` or ``evaluate`` call.

    Args:
        kind: ``"run"`` or ``"evaluate"``.
        limit: The wall-clock limit sent (per command or per case), ``None`` for the
            service's default.
        cases: How many cases an evaluation has (ignored for ``run``).
        judging: Seconds an evaluation's checker may take in all (:func:`judging_time`).

    Returns:
        The read timeout that outlasts the service's own deadline for the call.
    """
    if kind == "run":
        budget = DEFAULT_RUN_TIMEOUT if limit is None else float(limit)
    elif kind == "evaluate":
        per_case = (DEFAULT_CASE_TIMEOUT if limit is None else float(limit)) + CASE_OVERHEAD
        budget = max(cases, 1) * per_case + judging
    else:
        raise ValueError(f"no deadline rule for {kind!r}")
    return QUEUE_WAIT + budget + ANSWER_MARGIN + HTTP_MARGIN


def judging_time(runs: int, limit: float | None) -> float:
    """Seconds a checker may take over an evaluation: ``runs`` runs (one per case, one
    for its compile step), each within its ``timeout`` (``limit``; ``None`` for the
    service's default) plus the per-case overhead."""
    return runs * ((DEFAULT_JUDGE_TIMEOUT if limit is None else float(limit)) + CASE_OVERHEAD)


def batch_answer_timeout(submissions: Sequence[tuple[float | None, int] | tuple[float | None, int, float]]) -> float:
    """Seconds to wait for the answer to one ``evaluate_batch`` call.

    Args:
        submissions: Per submission, the per-case wall-clock limit sent (``None`` for the
            default), its number of cases and, optionally, its checker's time
            (:func:`judging_time`).
    """
    waves = max(math.ceil(len(submissions) / BATCH_WINDOW), 1)
    longest = max((answer_timeout("evaluate", *submission) - HTTP_MARGIN for submission in submissions),
                  default=0.0)
    return waves * longest + HTTP_MARGIN
