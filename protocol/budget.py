"""How long an operation may take, so that timeouts nest and every answer is true.

For `run` and `evaluate` (the operations that use a sandbox), from the moment the
supervisor receives the request:

    start-by = queue wait (REPL_MAX_QUEUE_WAIT)
        the job is started by then, or answered UNAVAILABLE (503) and never started
    sandbox deadline (per command, or per case, and per `compile`, plus CASE_OVERHEAD), enforced by the sandbox
  < job budget + BACKSTOP_GRACE: the supervisor kills the sandbox, answers OUTCOME_UNKNOWN
  < RPC timeout = queue wait + job budget + BACKSTOP_GRACE + REPLY_MARGIN: the web worker
        gives up and answers OUTCOME_UNKNOWN (504): the request was sent, the job may run
  < client read timeout = RPC timeout + CLIENT_MARGIN (repl_client)

A batch (`evaluate_batch`) runs its submissions as jobs of their own, at most
`batch_window` of them at a time (the pool's concurrency), each with its own queue wait
and budget from when the batch hands it over; so the batch ends within `batch_waves`
times the longest submission's own RPC timeout, and that product is its RPC timeout.

So a 503 is only ever the supervisor's own "not started" (or a request that never left the
web tier), and a web-side timeout means the reply was lost, never that the job might still
be queued. The web tier, the supervisor and the tests compute these from the same request
and configuration, here; repl_client, which ships alone, applies the same rule to the
documented defaults (docs/api.md, "Deadlines"), and a test holds the two together.
"""

from __future__ import annotations

import math
from typing import Any

from protocol import limits

CASE_OVERHEAD = 0.5      # fork, confinement and reporting per case, generously
BACKSTOP_GRACE = 2.0     # past the budget before the supervisor kills the sandbox
REPLY_MARGIN = 3.0       # the kill, the reply's trip back and a busy poll loop
CLIENT_MARGIN = 5.0      # the HTTP hop: the client hears the web tier's answer first
FILE_OP_TIMEOUT = 30.0   # file operations (a fork of a large session is the slowest)


def job_budget(op: str, request: Any, config: Any) -> float:
    """Seconds a job may run inside its sandbox (0 for operations without a sandbox)."""
    if op == "run":
        return float(limits.resolve("run", "timeout", request.timeout, config))
    if op == "evaluate":
        per_case = float(limits.resolve("evaluate", "timeout", request.timeout, config)) + CASE_OVERHEAD
        # A program evaluation's `compile` runs once, under the same limits as a case.
        # The tests of test-code mode run after the cases, a case each.
        units = (len(request.io_cases) + len(getattr(request, "test_plan", ()))
                 + (1 if getattr(request, "compile", None) else 0))
        return max(units, 1) * per_case + _judging(request, config)
    return 0.0


def _judging(request: Any, config: Any) -> float:
    """A checker runs after every case, and its compile step once, each under its own
    timeout (`Judge.timeout`); an interactor runs within its cases' time, and its compile
    step once."""
    checker, interactor = getattr(request, "checker", None), getattr(request, "interactor", None)
    runs, judge = 0, checker or interactor
    if judge is None:
        return 0.0
    runs = (len(request.io_cases) if checker is not None else 0) + (1 if judge.compile else 0)
    return runs * (float(limits.resolve("judge", "timeout", judge.timeout, config)) + CASE_OVERHEAD)


def exclusive_wait(config: Any) -> float:
    """Seconds a fork or a session delete waits for the session's running jobs (a `/run`
    at its largest timeout ends within this) before it is answered 503."""
    return float(config.max_run_timeout) + BACKSTOP_GRACE


EXCLUSIVE_OPS = ("fork_session", "delete_session")  # wait for the session's jobs first


def queue_wait(config: Any) -> float:
    """Seconds a job may wait for a free sandbox before it is answered "not started"."""
    return float(config.max_queue_wait)


def batch_window(config: Any) -> int:
    """Submissions of one batch handed to the pool at once: as many as can run at once, so
    a submission never waits for a sandbox behind its own batch, and each gets the whole
    queue wait of a job of its own (only other traffic can make it wait)."""
    return int(config.max_concurrent_jobs)


def batch_waves(count: int, config: Any) -> int:
    """How many submissions of a batch of `count` run one after another in the worst case."""
    return max(math.ceil(count / batch_window(config)), 1)


def rpc_timeout(op: str, request: Any, config: Any) -> float:
    """Seconds the web worker waits for the supervisor's answer to `op`.

    Longer than anything the supervisor may take to answer by itself, so that running
    out of it means the answer was lost (OUTCOME_UNKNOWN), not that the job is still
    waiting to start.
    """
    if op == "evaluate_batch":
        longest = max(rpc_timeout("evaluate", submission, config) for submission in request.submissions)
        return batch_waves(len(request.submissions), config) * longest
    budget = job_budget(op, request, config)
    if op in EXCLUSIVE_OPS:
        return exclusive_wait(config) + FILE_OP_TIMEOUT
    if budget == 0.0:
        return FILE_OP_TIMEOUT
    return queue_wait(config) + budget + BACKSTOP_GRACE + REPLY_MARGIN


def client_timeout(op: str, request: Any, config: Any) -> float:
    """Seconds an HTTP client should wait for `op`'s answer: after the web tier's own."""
    return rpc_timeout(op, request, config) + CLIENT_MARGIN
