"""The generated problems expect what a real Python says, and replies are checked."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from dataclasses import replace

import pytest

from bench.answers import WrongAnswer
from bench.baselines import naive_status
from bench.problems import (
    BAD_CASE,
    Problem,
    add_problem,
    batch_problems,
    check_evaluation,
    program_problem,
)


def test_batch_has_every_kind_of_outcome() -> None:
    problems = batch_problems()
    assert len(problems) == 100 and all(len(p.cases) == 10 for p in problems)
    statuses = Counter(status for problem in problems for status in problem.statuses)
    assert set(statuses) == {"passed", "failed", "error", "timeout"}
    looping = [p for p in problems if "timeout" in p.statuses]
    assert all(p.timeout == 1.0 for p in looping)


@pytest.mark.parametrize("position", [0, 1, 3, 13, 6])
def test_expected_statuses_agree_with_python(position: int) -> None:
    problem = batch_problems()[position]
    got = tuple(naive_status(sys.executable, problem, case) for case in problem.cases)
    assert got == problem.statuses


def _reply(statuses: tuple[str, ...]) -> dict[str, object]:
    return {
        "passed": all(s == "passed" for s in statuses),
        "case_results": [{"status": s, "passed": s == "passed"} for s in statuses],
        "error": None,
    }


def test_a_matching_reply_passes_the_check() -> None:
    problem = batch_problems()[3]
    check_evaluation(_reply(problem.statuses), problem)


def test_a_wrong_status_is_a_wrong_answer() -> None:
    problem = add_problem(10)
    statuses = list(problem.statuses)
    statuses[BAD_CASE] = "failed"
    with pytest.raises(WrongAnswer):
        check_evaluation(_reply(tuple(statuses)), problem)
    with pytest.raises(WrongAnswer):
        check_evaluation({"passed": True, "case_results": []}, problem)


def test_program_cases_expect_what_python_prints() -> None:
    problem = program_problem(10)
    assert problem.entry_point is None and problem.statuses == ("passed",) * 10
    for case in problem.cases:
        done = subprocess.run([sys.executable, "-c", problem.code], input=case["stdin"],
                              capture_output=True, text=True, check=True)
        assert done.stdout == case["stdout"]
    assert len({case["stdin"] for case in problem.cases}) == 10


def test_request_bodies_carry_only_the_fields_each_kind_has() -> None:
    body = program_problem(2).request("s")
    assert set(body) == {"id", "code", "io_cases"}
    assert body["io_cases"][0] == {"stdin": "1 2\n", "stdout": "3\n"}
    isolated = replace(add_problem(1), isolation="case").request("s")
    assert isolated["isolation"] == "case" and isolated["entry_point"] == "add"
    assert "isolation" not in add_problem(1).request("s")
    tests = Problem("def f():\n    return 1\n", "f", (), ("passed",),
                    tests="def check(candidate):\n    assert candidate() == 1\n")
    assert set(tests.request("s")) == {"id", "code", "entry_point", "tests"}
