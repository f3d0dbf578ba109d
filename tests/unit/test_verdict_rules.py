"""The pure rules of a case's verdict and credit: the memory rule of
`supervisor/sandbox/verdicts.py` and the scores of `supervisor/sandbox/messages.py`."""

from __future__ import annotations

import math
import signal

import pytest

from supervisor.sandbox import messages, verdicts

LIMIT_KB = 256 << 10
SEGV = signal.SIGSEGV  # a wait status: killed by SIGSEGV


def exited(code: int) -> int:
    return code << 8  # a wait status: exited with `code`


@pytest.mark.parametrize(("status", "peak_kb", "memory"), [
    (SEGV, LIMIT_KB - 3000, True),        # a C program writing through malloc's NULL
    (exited(3), LIMIT_KB // 2, True),     # one that checks, holding half (a doubling buffer)
    (exited(139), LIMIT_KB - 1, True),    # a shell reporting its child's SIGSEGV
    (SEGV, LIMIT_KB // 2 - 1, False),     # a crash short of half the limit
    (exited(1), 20 << 10, False),
    (exited(0), LIMIT_KB, False),         # held it all and ended well
    (None, LIMIT_KB, False),              # an end never reported
])
def test_the_memory_rule(status: int | None, peak_kb: int, memory: bool) -> None:
    assert verdicts.memory_exhausted(status, verdicts.Memory(peak_kb, LIMIT_KB)) is memory
    verdict = verdicts.of_end(status, "the program", memory=verdicts.Memory(peak_kb, LIMIT_KB))
    assert (verdict.status == "memory") is memory
    if memory:
        assert verdict.error.startswith("MemoryLimitExceeded: the program ")
        assert verdict.error.endswith(f"after using {peak_kb >> 10} MiB of its 256 MiB memory limit")


SMALL_KB, BORN_KB = 32 << 10, 19 << 10  # a small limit; the peak a fork of the interpreter is born with


@pytest.mark.parametrize(("peak_kb", "from_start", "memory"), [
    (BORN_KB, False, False),           # an exec'd shell that exits at once: the peak is its fork's
    (BORN_KB + 800, True, False),      # a warm Python program that exits at once
    (BORN_KB + 800, False, True),      # an exec'd program past the peak it was born with, over half its limit
    (SMALL_KB - 500, True, True),      # a warm fork that took most of its room
    (BORN_KB + 4000, True, False),     # one that took a little of it
])
def test_the_memory_rule_counts_past_the_peak_a_process_was_born_with(peak_kb: int, from_start: bool,
                                                                       memory: bool) -> None:
    record = verdicts.Memory(peak_kb, SMALL_KB, BORN_KB, limited_from_start=from_start)
    assert verdicts.memory_exhausted(exited(1), record) is memory


def test_without_a_record_a_crash_is_a_crash_and_python_says_memory_error_itself() -> None:
    assert verdicts.of_end(SEGV, "the program").status == "crashed"
    assert verdicts.of_end(exited(1), "the program", memory_error=True).error == (
        "MemoryLimitExceeded: the program exited with status 1 on Python's MemoryError")
    assert verdicts.python_memory_error("Traceback ...\nMemoryError\n")
    assert not verdicts.python_memory_error("MemoryError\nValueError: x\n")


def test_output_past_the_cap_comes_before_a_timeout() -> None:
    verdict = verdicts.of_limits(None, True, signal.SIGKILL, 0.1, 4.0, output_over="the program")
    assert verdict is not None and verdict.status == "output_limit"
    assert verdicts.of_limits("DiskQuotaExceeded", True, None, 0.0, 4.0, output_over="the program") == (
        verdicts.Verdict("error", "DiskQuotaExceeded"))


@pytest.mark.parametrize(("score", "passed", "expected"), [
    (None, True, 1.0), (None, False, 0.0), (0.25, False, 0.25), (1 / 3, False, 0.333333),
    (1.5, True, 1.0), (-0.5, False, 0.0), (math.nan, True, 0.0), (math.inf, True, 0.0),
])
def test_a_case_score(score: float | None, passed: bool, expected: float) -> None:
    assert messages.case_score(score, passed) == expected
    wire = messages.CaseResult(case=0, input="", passed=passed, status="x", score=score).to_wire()
    assert wire["score"] == expected


def test_the_reply_of_an_evaluation() -> None:
    cases = [messages.CaseResult(case=i, input="", passed=p, status="x", score=s).to_wire()
             for i, (p, s) in enumerate([(True, None), (False, 0.5), (False, None)])]
    assert messages.evaluation_reply(cases) == {"passed": False, "case_results": cases, "error": None,
                                                "score": 0.5, "passed_count": 1}
    assert messages.evaluation_reply([]) == {"passed": True, "case_results": [], "error": None, "score": 0.0,
                                             "passed_count": 0}
    assert messages.evaluation_reply([], "SyntaxError: x")["passed"] is False
