"""HumanEval's asserts become well-formed io cases, and only the clean ones do."""

from __future__ import annotations

import ast
import re

import pytest

from bench.humaneval import convert, convert_record, humaneval_test_problems, read_records

ID = "bench-test"


@pytest.fixture(scope="module")
def records() -> list[dict[str, str]]:
    return read_records()


def test_counts_match_the_data_set(records: list[dict[str, str]]) -> None:
    conversion = convert(records)
    assert len(records) == 164
    assert len(conversion.problems) == 154
    assert conversion.case_count == 1076
    assert len(conversion.skipped_problems) == 164 - 154
    assert "HumanEval/32" in conversion.skipped_problems  # tolerance check (poly roots)


def test_every_case_is_a_call_and_an_expression(records: list[dict[str, str]]) -> None:
    for problem in convert(records).problems:
        assert problem.cases and problem.statuses == ("passed",) * len(problem.cases)
        assert problem.code.strip() and re.fullmatch(r"\w+", problem.entry_point or "")
        for case in problem.cases:
            call = ast.parse(f"f({case['input']})", mode="eval").body
            assert isinstance(call, ast.Call)
            ast.parse(case["output"], mode="eval")
            assert "candidate" not in case["input"] + case["output"]
        body = problem.request(ID)
        assert body["id"] == ID and len(body["io_cases"]) == len(problem.cases)


def _record(test: str) -> dict[str, str]:
    return {"task_id": "t/0", "prompt": "def f(x, y=0):\n", "entry_point": "f",
            "canonical_solution": "    return x + y\n", "test": test}


def test_only_plain_equality_asserts_on_builtins_convert() -> None:
    test = (
        "METADATA = {}\n"
        "def check(candidate):\n"
        "    assert candidate(1, y=2) == 3\n"
        "    assert candidate([1, 2], y=[3]) == [1, 2, 3], 'message is ignored'\n"
        "    assert abs(candidate(1.0) - 1.0) < 1e-6\n"
        "    assert candidate(1) != 2\n"
        "    assert candidate(1)\n"
        "    x = 4\n"
        "    assert candidate(x) == 4\n"
        "    assert candidate(1) == candidate(1)\n"
        "    for i in range(3):\n"
        "        assert candidate(i) == i\n"
        "    assert candidate(float('inf')) == float('inf')\n"
    )
    problem, skipped = convert_record(_record(test))
    assert problem is not None
    assert [dict(case) for case in problem.cases] == [
        {"input": "1, y=2", "output": "3"},
        {"input": "[1, 2], y=[3]", "output": "[1, 2, 3]"},
        {"input": "float('inf')", "output": "float('inf')"},
    ]
    assert skipped == 7
    assert problem.code == "def f(x, y=0):\n    return x + y\n"


def test_a_problem_without_convertible_asserts_is_skipped() -> None:
    problem, skipped = convert_record(_record("def check(candidate):\n    assert candidate(1)\n"))
    assert problem is None and skipped == 1


def test_test_code_mode_keeps_every_problem_with_its_check(
        records: list[dict[str, str]]) -> None:
    problems = humaneval_test_problems()
    assert len(problems) == len(records) == 164
    for problem, record in zip(problems, records, strict=True):
        assert problem.tests == record["test"] and "def check(candidate)" in record["test"]
        assert problem.entry_point == record["entry_point"]
        assert problem.code == record["prompt"] + record["canonical_solution"]
        assert problem.cases == () and problem.statuses == ("passed",)
        assert "io_cases" not in problem.request(ID)
