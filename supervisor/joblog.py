"""One log line per operation the supervisor answers: what it was, for whom, how it ended.

    2026-12-02T17:30:00.123Z supervisor INFO job kind=run session=abc request_id=0f3c duration_ms=31.2 outcome=timeout

Written once per request, when its reply leaves (`Server._handle`), so an operation that
never reached a sandbox (a missing session, a full queue, an invalid body) has its line
too. The line holds names, ids, numbers and fixed words only: never user code, a
command, file contents or an error's free text. `status` (the health checks and metrics
scrapes ask it every few seconds) is logged at DEBUG.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from protocol.errors import ServiceError

log = logging.getLogger("supervisor.jobs")

# Worst first: an evaluation's outcome is the worst status among its cases.
_CASE_OUTCOMES = ("crashed", "memory", "output_limit", "timeout", "error", "failed")
_WORD = re.compile(r"[A-Za-z0-9_.-]{1,128}")


def outcome(body: dict[str, Any] | None, error: ServiceError | None) -> str:
    """`ok`, the error code, or for a job that ran, what happened to it."""
    if error is not None:
        return error.code.value
    body = body or {}
    if body.get("timed_out"):
        return "timeout"
    statuses = {case.get("status") for case in body.get("case_results", ()) if isinstance(case, dict)}
    return next((status for status in _CASE_OUTCOMES if status in statuses), "ok")


def _word(value: Any) -> str:
    """A value fit for a log line: an id or a fixed word, else `-`."""
    return value if isinstance(value, str) and _WORD.fullmatch(value) else "-"


def fields(kind: str, session: Any, request_id: str, duration_ms: float, body: dict[str, Any] | None,
           error: ServiceError | None) -> dict[str, Any]:
    """The structured fields of one job line (the JSON format writes them as keys)."""
    entry: dict[str, Any] = {"kind": _word(kind), "session": _word(session), "request_id": request_id or "-",
                             "duration_ms": round(duration_ms, 1), "outcome": outcome(body, error)}
    if error is not None and error.cause:
        entry["cause"] = _word(error.cause)
    body = body or {}
    if "exit_code" in body:
        entry["exit_code"] = body["exit_code"]
    if isinstance(body.get("case_results"), list):
        entry["cases"] = len(body["case_results"])
        entry["passed"] = sum(1 for case in body["case_results"] if isinstance(case, dict) and case.get("passed"))
    return entry


def write(kind: str, session: Any, request_id: str, duration_ms: float, body: dict[str, Any] | None,
          error: ServiceError | None) -> None:
    """Log the job line of one answered operation."""
    entry = fields(kind, session, request_id, duration_ms, body, error)
    text = " ".join(f"{key}={value}" for key, value in entry.items())
    log.log(logging.DEBUG if kind == "status" else logging.INFO, "job %s", text, extra=entry)
