"""How long an operation may take, so that timeouts nest.

    sandbox deadline (per case / per command, enforced by the sandbox's init)
  < job budget + BACKSTOP_GRACE (the supervisor kills the sandbox)
  < RPC timeout (the web worker gives up and answers 503)

Both sides compute these from the same request and configuration, here.
"""

from __future__ import annotations

from typing import Any

CASE_OVERHEAD = 0.5      # fork, confinement and reporting per case, generously
BACKSTOP_GRACE = 2.0     # past the budget before the supervisor kills the sandbox
QUEUE_ALLOWANCE = 15.0   # time a job may wait for a free sandbox under load
FILE_OP_TIMEOUT = 30.0   # file operations (a fork of a large session is the slowest)


def job_budget(op: str, request: Any, config: Any) -> float:
    """Seconds a job may run inside its sandbox (0 for operations without a sandbox)."""
    if op == "run":
        return float(request.timeout or config.run_timeout)
    if op == "evaluate":
        per_case = float(request.timeout or config.eval_timeout) + CASE_OVERHEAD
        return max(len(request.io_cases), 1) * per_case
    return 0.0


def exclusive_wait(config: Any) -> float:
    """Seconds a fork or a session delete waits for the session's running jobs (a `/run`
    at its largest timeout ends within this) before it is answered 503."""
    return float(config.max_run_timeout) + BACKSTOP_GRACE


EXCLUSIVE_OPS = ("fork_session", "delete_session")  # wait for the session's jobs first


def rpc_timeout(op: str, request: Any, config: Any) -> float:
    budget = job_budget(op, request, config)
    if op in EXCLUSIVE_OPS:
        return exclusive_wait(config) + FILE_OP_TIMEOUT
    if budget == 0.0:
        return FILE_OP_TIMEOUT
    return budget + BACKSTOP_GRACE + QUEUE_ALLOWANCE
