"""Runs in: the init.

Function cases and test-code cases of an `/evaluate_code` job: each runs in a unit (the
unit side is `function_case` and `testcode/`), and each is judged here, from how its
unit ended (`verdicts`), the value it says it returned, and the expected value parsed
from the request, which the unit never sees (the one exception, an expected expression,
is explained in `verdicts`). Program cases are `programs`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from protocol import testplan
from supervisor.sandbox import judges, messages, serving, values, verdicts
from supervisor.sandbox.execution import Execution

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
    """Run the cases one after another, then the tests, in units that serve them
    (`serving`: one unit for many cases, a new one after a case that must not be
    followed in its process), the sandbox restored to a fresh state between two units."""
    judge = judges.install(job.checker, ex.config.insecure) if job.checker is not None else None
    try:
        return _run_evaluation(job, ex, judge)
    finally:
        if judge is not None:
            judges.remove(judge)


def _run_evaluation(job: messages.EvaluateJob, ex: Execution, judge: judges.Judge | None) -> dict[str, Any]:
    every: list[Work] = [*job.cases, *job.test_plan]
    planned = every
    servers = (serving.CaseServer(job, ex, len(job.cases) or 1, tests=False),
               serving.CaseServer(job, ex, len(job.test_plan), tests=True))
    results: list[dict[str, Any]] = []
    compile_error: str | None = None
    budget = job.result_budget
    if judge is not None and judge.spec.compile is not None:
        compile_error = judges.compile_checker(ex, judge, job.memory_mb)
        ex.clean()
        if compile_error is not None:
            planned = []
    try:
        for index, item in enumerate(planned or ([None] if compile_error is None else [])):  # no case: compile once
            expected = expected_of(item, judge) if isinstance(item, messages.CaseSpec) else _Expected(literal=True)
            if isinstance(item, messages.CaseSpec) and expected.refused is not None:
                results.append(messages.CaseResult(case=index, input=item.input, status="error",
                                                   error=expected.refused).to_wire())  # never run
                if job.stop_on_first_failure:
                    results += [_skipped(i, c) for i, c in enumerate(planned) if i > index]
                    break
                continue
            server = servers[isinstance(item, testplan.PlannedTest)]
            if server is servers[1] and servers[0].forked is not None:
                servers[0].end()  # the function cases are done: a fresh state for the tests
                ex.clean()
            served = server.run(_message(job, item, expected), budget)
            budget -= served.used
            if server.forked is None:  # the case ended its unit: the next one starts from a fresh state
                ex.clean()
            fields = _verdict(served, expected, job)
            if "compile_error" in fields:
                compile_error = fields["compile_error"]
                break
            if item is None:
                break
            if judge is not None and fields.get("status") in ("passed", "failed") and served.report is not None:
                fields = _checked(judge, server, served.report, item, expected, job, fields)
            reaped = served.ended.status is not None
            result = messages.CaseResult(case=index, input=_shown_input(item), **fields,
                                         duration_ms=round(served.outcome.duration_ms, 3),
                                         cpu_ms=round(served.ended.cpu_seconds * 1000, 3) if reaped else None,
                                         peak_memory_kb=served.ended.maxrss_kb if reaped else None)
            results.append(result.to_wire())
            if job.stop_on_first_failure and not result.passed:
                results += [_skipped(i, c) for i, c in enumerate(planned) if i > index]
                break
    finally:
        for server in servers:
            server.end()
    if compile_error is not None:
        results = [messages.CaseResult(case=i, input=_shown_input(c), status="error", error=compile_error).to_wire()
                   for i, c in enumerate(every)]
    return messages.evaluation_reply(results, compile_error)


def _checked(judge: judges.Judge, server: serving.CaseServer, report: messages.CaseReport, item: Work,
             expected: _Expected, job: messages.EvaluateJob, fields: dict[str, Any]) -> dict[str, Any]:
    """A returned case's verdict, by the request's checker: run once the case's unit and
    everything it started are gone (the next case gets a new unit), then the sandbox
    cleaned again for what comes next."""
    assert isinstance(item, messages.CaseSpec)  # noqa: S101 - a checker judges function cases only
    server.end()
    server.ex.clean()
    python = judge.spec.code is not None
    output, answer = judges.function_files(report.got, expected.value, python)
    checked = judges.check(server.ex, judge, job.memory_mb, item.input, output, answer, values=python)
    server.ex.clean()
    return {**fields, "status": checked.status, "passed": checked.passed, "error": checked.error,
            "score": checked.score}


def _message(job: messages.EvaluateJob, item: Work | None, expected: _Expected) -> messages.CaseMessage:
    """What the unit is told of a case: never a literal expected value (the init keeps it)."""
    if isinstance(item, messages.CaseSpec):
        return messages.CaseMessage(token="", cpu_seconds=job.cpu, input=item.input,
                                    output=None if expected.literal else item.output)
    if isinstance(item, testplan.PlannedTest):
        return messages.CaseMessage(token="", cpu_seconds=job.cpu, tests=job.tests, test=item)
    return messages.CaseMessage(token="", cpu_seconds=job.cpu)


def _shown_input(item: Work) -> str:
    """A case's `input` in its result: the call's arguments, or the test's name."""
    return item.input if isinstance(item, messages.CaseSpec) else item.name


def _skipped(index: int, item: Work) -> dict[str, Any]:
    """A case not run because an earlier one failed (`stop_on_first_failure`)."""
    shown = None
    if isinstance(item, messages.CaseSpec):
        expected = expected_of(item)
        shown = values.to_wire(expected.value) if expected.literal else None
    return messages.CaseResult(case=index, input=_shown_input(item), expected=shown, status="skipped").to_wire()


NOT_LITERAL_FOR_CHECKER = ("NotLiteral: with a checker, a case's output must be a Python literal: the checker "
                           "gets it as a value, and an expression has a value only in the solution's globals")


def expected_of(case: messages.CaseSpec, judge: judges.Judge | None = None) -> _Expected:
    try:
        return _Expected(literal=True, value=values.parse_literal(case.output))
    except values.NotLiteral:
        if judge is not None:
            return _Expected(literal=True, refused=NOT_LITERAL_FOR_CHECKER)
        return _Expected(literal=False)
    except values.LiteralTooLarge as exc:
        return _Expected(literal=True, refused=str(exc))


def _verdict(served: serving.Served, expected: _Expected, job: messages.EvaluateJob) -> dict[str, Any]:
    """A case's result fields, decided here: from how its process ended (`verdicts`), the
    value it says it returned, and the expected value parsed from the request (never
    from the case)."""
    shown = values.to_wire(expected.value) if expected.literal else None
    outcome, ended = served.outcome, served.ended
    limit = verdicts.of_limits(outcome.stopped, outcome.timed_out, ended.status, ended.cpu_seconds, job.cpu)
    if limit is not None:
        return {"expected": shown, "status": limit.status, "error": limit.error}
    report = served.report
    if report is not None and report.outcome == "ended":  # isolation "case": the fork died unreported
        end = verdicts.of_end(report.wait_status, "the case process", " before returning")
        return {"expected": shown, "status": end.status, "error": end.error}
    if report is not None and not served.garbled:
        try:
            return _judge(report, expected, shown, job.float_tolerance)
        except (ValueError, TypeError, KeyError):
            return {"expected": shown, "status": "error", "error": INVALID_REPORT}
    if served.garbled:
        return {"expected": shown, "status": "error", "error": INVALID_REPORT}
    if served.truncated:
        return {"expected": shown, "status": "error", "error": RESULT_TOO_LARGE}
    # The peak of the unit's own process (the kernel's, started over at the case's start:
    # `serving`); a fork that died in isolation "case" has only the unit's word, no such record.
    memory = verdicts.Memory(ended.maxrss_kb, job.memory_mb << 10, ended.start_kb)
    end = verdicts.of_end(ended.status, "the case process", " before returning", memory=memory)
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
