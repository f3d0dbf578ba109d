"""Runs in: the init.

Function cases and test-code cases of an `/evaluate_code` job: each runs in a unit (the
unit side is `function_case` and `testcode/`), and each is judged here, from how its
unit ended (`verdicts`), the value it says it returned, and the expected value parsed
from the request, which the unit never sees (the one exception, an expected expression,
is explained in `verdicts`). Program cases are `programs`.
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass
from typing import Any

from protocol import testplan
from supervisor.sandbox import execution, frames, messages, template, values, verdicts, watch
from supervisor.sandbox.execution import Execution

RESULT_LIMIT = 32 << 20  # bytes of report one case may send
INVALID_REPORT = "InvalidReport: the case process sent an unreadable report"
RESULT_TOO_LARGE = "ResultTooLarge: the case's result exceeds the limit of the case or of the request"


@dataclass
class _Expected:
    """The expected output of one case as the init holds it."""

    literal: bool
    value: Any = None
    refused: str | None = None  # a literal the init does not parse: why (the case is not run)


Work = messages.CaseSpec | testplan.PlannedTest  # a function-call case, or a test of the tests


def run_evaluation(job: messages.EvaluateJob, ex: Execution) -> dict[str, Any]:
    """Run the cases one after another, then the tests, each a fork of the template, with
    the sandbox restored to a fresh state between two."""
    planned: list[Work] = [*job.cases, *job.test_plan]
    work: list[Work | None] = list(planned) or [None]  # with no case, still compile once
    forker = _job_template(job, ex)
    results: list[dict[str, Any]] = []
    compile_error: str | None = None
    budget = job.result_budget
    try:
        for index, item in enumerate(work):
            if index:
                ex.clean(*([forker] if forker is not ex.base else []))
                if not forker.alive:
                    forker = ex.base
            result, used, compile_error = run_case(job, ex, forker, index, item, budget)
            budget -= used
            if compile_error is not None:
                break
            if result is not None:
                results.append(result.to_wire())
                if job.stop_on_first_failure and not result.passed:
                    results += [_skipped(i, c) for i, c in enumerate(planned) if i > index]
                    break
    finally:
        if forker is not ex.base:
            forker.close()
    if compile_error is not None:
        results = [messages.CaseResult(case=i, input=_shown_input(c), status="error", error=compile_error).to_wire()
                   for i, c in enumerate(planned)]
    passed = compile_error is None and all(r["passed"] for r in results)
    return {"passed": passed, "case_results": results, "error": compile_error}


def _shown_input(item: Work) -> str:
    """A case's `input` in its result: the call's arguments, or the test's name."""
    return item.input if isinstance(item, messages.CaseSpec) else item.name


def _job_template(job: messages.EvaluateJob, ex: Execution) -> template.Handle:
    """A template that has imported what the code imports, when there is anything to
    import and more than one case to share it; else the sandbox's own template."""
    wanted = template.imports_of(job.code) + (template.imports_of(job.tests) if job.tests else [])
    modules = [m for m in dict.fromkeys(wanted) if m not in sys.modules]
    if not modules or len(job.cases) + len(job.test_plan) < 2:
        return ex.base
    try:
        forked = ex.base.fork_template(modules)
    except OSError:
        return ex.base
    if forked.wait_ready(job.timeout):
        return forked
    forked.close()
    ex.stopper(forked.pid)(None)
    return ex.base


def _skipped(index: int, item: Work) -> dict[str, Any]:
    """A case not run because an earlier one failed (`stop_on_first_failure`)."""
    shown = None
    if isinstance(item, messages.CaseSpec):
        expected = expected_of(item)
        shown = values.to_wire(expected.value) if expected.literal else None
    return messages.CaseResult(case=index, input=_shown_input(item), expected=shown, status="skipped").to_wire()


def expected_of(case: messages.CaseSpec) -> _Expected:
    try:
        return _Expected(literal=True, value=values.parse_literal(case.output))
    except values.NotLiteral:
        return _Expected(literal=False)
    except values.LiteralTooLarge as exc:
        return _Expected(literal=True, refused=str(exc))


def run_case(job: messages.EvaluateJob, ex: Execution, forker: template.Handle, index: int,
             item: Work | None, budget: int) -> tuple[messages.CaseResult | None, int, str | None]:
    """Run one case (or one test of the tests) and decide its verdict; return its result
    (None when there was no case: the code was only compiled), the bytes of report it
    used, and the compile error every case then carries, if the code does not compile.

    The killed processes of a case are waited for before the next case starts: nothing
    of one case can run, or be seen, during the next.
    """
    case = item if isinstance(item, messages.CaseSpec) else None
    test = item if isinstance(item, testplan.PlannedTest) else None
    expected = expected_of(case) if case is not None else _Expected(literal=True)
    if case is not None and expected.refused is not None:
        return messages.CaseResult(case=index, input=case.input, status="error", error=expected.refused), 0, None
    unit = messages.CaseUnit(code=job.code, entry_point=job.entry_point,
                             case=messages.CaseSpec(case.input, "" if expected.literal else case.output)
                             if case else None,
                             stdout_limit=job.stdout_limit, limits=execution.unit_limits(job.cpu, job.memory_mb,
                                                                                           job.fsize),
                             cwd=ex.cwd, expected_withheld=expected.literal, float_tolerance=job.float_tolerance,
                             tests_follow=test is not None)
    started = time.monotonic()
    forked = forker.fork(unit)
    if test is not None:
        template.write_message(forked.stdin, asdict(messages.TestMessage(tests=job.tests, test=test)))
    seq = forked.seq
    pid = forker.pid_of(seq)
    capture = watch.Capture(forked.report, min(RESULT_LIMIT, max(budget, 0)))
    conversation = _Conversation(capture)
    job_templates = () if forker is ex.base else (forker,)
    outcome = watch.supervise(pid, [capture], started + job.timeout, ex.stopper(pid, *job_templates),
                              until=conversation.done, watch=ex.quota, started=started)
    if conversation.report is None and not conversation.garbled:
        conversation.done()  # the process exited before its report was read: read it now
    ended = ex.ended(forker, seq)
    used = 0 if capture.truncated else len(capture.data)  # a refused result is dropped
    fields = _verdict(outcome, ended, conversation, expected, job, capture)
    if "compile_error" in fields:
        return None, used, fields["compile_error"]
    if item is None:
        return None, used, None
    reaped = ended.status is not None
    result = messages.CaseResult(case=index, input=_shown_input(item), **fields,
                                 duration_ms=round(outcome.duration_ms, 3),
                                 cpu_ms=round(ended.cpu_seconds * 1000, 3) if reaped else None,
                                 peak_memory_kb=ended.maxrss_kb if reaped else None)
    return result, used, None


class _Conversation:
    """The case's report frame as it arrives."""

    def __init__(self, capture: watch.Capture) -> None:
        self.capture = capture
        self.report: messages.CaseReport | None = None
        self.garbled = False

    def done(self) -> bool:
        try:
            first = frames.first_frame(self.capture.data)
            if first is None:
                return False
            self.report = messages.from_wire(messages.CaseReport, first[0])
            return True
        except Exception:  # noqa: BLE001 - anything the unit wrote: a garbled report
            self.garbled = True
            return True


def _verdict(outcome: watch.Outcome, ended: messages.Exit, conversation: _Conversation, expected: _Expected,
             job: messages.EvaluateJob, capture: watch.Capture) -> dict[str, Any]:
    """A case's result fields, decided here: from how its process ended (`verdicts`), the
    value it says it returned, and the expected value parsed from the request (never
    from the case)."""
    shown = values.to_wire(expected.value) if expected.literal else None
    limit = verdicts.of_limits(outcome.stopped, outcome.timed_out, ended.status, ended.cpu_seconds, job.cpu)
    if limit is not None:
        return {"expected": shown, "status": limit.status, "error": limit.error}
    report = conversation.report
    if report is not None and not conversation.garbled:
        try:
            return _judge(report, expected, shown, job.float_tolerance)
        except (ValueError, TypeError, KeyError):
            return {"expected": shown, "status": "error", "error": INVALID_REPORT}
    if conversation.garbled:
        return {"expected": shown, "status": "error", "error": INVALID_REPORT}
    if capture.truncated:
        return {"expected": shown, "status": "error", "error": RESULT_TOO_LARGE}
    end = verdicts.of_end(ended.status, "the case process", " before returning")
    return {"expected": shown, "status": end.status, "error": end.error}


def _judge(report: messages.CaseReport, expected: _Expected, shown: Any, tolerance: float | None) -> dict[str, Any]:
    outcome = report.outcome
    stdout = str(report.stdout or "")
    if outcome == "compile_error":
        return {"compile_error": str(report.error)}
    if outcome == "compiled":
        return {"status": "passed", "passed": True}
    if outcome == "test":
        return _judge_test(report, stdout)
    if not expected.literal:
        shown = report.expected
    if outcome in ("error", "memory"):
        return {"expected": shown, "status": outcome, "error": str(report.error), "stdout": stdout}
    if outcome != "returned":
        raise ValueError("unknown outcome")
    got = values.decode(report.got)
    opaque = values.has_opaque(report.got)
    if expected.literal:
        # Decided here, from values alone: a value the init cannot rebuild (an object of
        # the solution's own class) is never equal to a literal, whatever it claims.
        passed = not opaque and values.same(got, expected.value, tolerance)
    else:
        passed = report.eq is True  # an expression: only the unit can compare
    return {"expected": shown, "passed": passed, "status": "passed" if passed else "failed",
            "got": values.display_repr(got) if opaque else values.to_wire(got), "stdout": stdout}


_TEST_STATUSES = frozenset({"passed", "failed", "error", "memory", "crashed", "timeout", "skipped"})


def _judge_test(report: messages.CaseReport, stdout: str) -> dict[str, Any]:
    """A test's result is what its tests' process says (the solution cannot reach it: see
    `testcode.judge`); the values it compared are shown as a function case's would be. A
    test the tests skip themselves (unittest's skip) does not fail the submission."""
    status = report.status
    if status not in _TEST_STATUSES:
        raise ValueError("unknown status")
    shown = {}
    for key, wire in (("got", report.got), ("expected", report.expected)):
        value = values.decode(wire)
        shown[key] = values.display_repr(value) if values.has_opaque(wire) else values.to_wire(value)
    error = report.error
    return {**shown, "status": status, "passed": status in ("passed", "skipped"),
            "error": None if error is None else str(error), "stdout": stdout}
