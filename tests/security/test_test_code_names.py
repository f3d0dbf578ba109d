"""Test-code mode: the names the tests look up in the solution's globals cannot be used
to replace what decides the verdict (docs/api.md §4.2, §7.7): the asserts' own helpers,
builtins the tests apply to the answer under test, or the tests' own definitions."""

from __future__ import annotations

import pytest

from tests.support.service import Service


def evaluate(service: Service, code: str, tests: str, entry_point: str | None = None) -> dict:
    body = {"id": "scratch-names", "code": code, "tests": tests}
    if entry_point:
        body["entry_point"] = entry_point
    response = service.post("/evaluate_code", body)
    assert response.status_code == 200, response.text
    return response.json()


WRONG = "def f(x):\n    return -1\n"


@pytest.mark.parametrize("helper", ["__repl_compare__", "__repl_truth__", "__repl_failed__"])
def test_a_solution_cannot_stand_in_for_the_asserts_helpers(service: Service, helper: str):
    code = WRONG + f"{helper} = lambda *args: True\n"
    result = evaluate(service, code, "assert f(1) == 12345\nassert f(2)\nassert f(3) > 7\n")
    assert [c["status"] for c in result["case_results"]] == ["failed", "passed", "failed"]
    # the control: `assert f(2)` passes on its own (-1 is true), the comparisons fail


def test_a_solution_cannot_stand_in_for_a_builtin_the_tests_use(service: Service):
    code = WRONG + "def sorted(x):\n    return [1, 2, 3]\ndef len(x):\n    return 3\nisinstance = lambda *a: True\n"
    tests = "assert sorted([f(0)]) == [1, 2, 3]\nassert len([f(0)]) == 3\nassert isinstance(f(0), str)\n"
    result = evaluate(service, code, tests)
    assert [c["status"] for c in result["case_results"]] == ["failed", "failed", "failed"]
    control = evaluate(service, "def f(x):\n    return 'a'\n", "assert isinstance(f(0), str)\n")
    assert control["passed"]


def test_a_builtin_applied_to_the_entry_points_answer_stays_the_builtin(service: Service):
    """A function named like a builtin is the solution's only as the function under test
    (the entry point, or with none, the only thing the tests take from the solution):
    not when the tests apply it to the answer of the entry point they name."""
    code = WRONG + "abs = lambda x: 0\nround = lambda *a: 12345\n"
    check = ("def check(candidate):\n    assert abs(candidate(1) - 12345) < 1e-6\n"
             "    assert round(candidate(2)) == 12345\n")
    assert evaluate(service, code, check, "f")["case_results"][0]["status"] == "failed"
    control = evaluate(service, "def f(x):\n    return 12345.0\n", check, "f")
    assert control["passed"], control


def test_the_tests_own_check_is_the_one_called(service: Service):
    code = WRONG + "def check(candidate):\n    pass\n"
    result = evaluate(service, code, "def check(candidate):\n    assert candidate(1) == 12345\n", "f")
    assert result["case_results"][0]["status"] == "failed"
