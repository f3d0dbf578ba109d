"""/evaluate_code's comparison and run options against the real sandbox (docs/api.md §4
additions): `float_tolerance` and `stop_on_first_failure`."""

from __future__ import annotations

import pytest

from tests.support.service import Service

IDENTITY = "def f(x):\n    return x"
ADD = "def add(a, b):\n    return a + b"


def statuses(result):
    return [case["status"] for case in result["case_results"]]


def test_floats_are_exact_unless_a_tolerance_is_asked(service: Service):
    cases = [("0.1, 0.2", "0.3")]
    assert statuses(service.evaluate(ADD, "add", cases)) == ["failed"]
    assert statuses(service.evaluate(ADD, "add", cases, float_tolerance=1e-9)) == ["passed"]


@pytest.mark.parametrize(("value", "expected", "tolerance", "status"), [
    ("1.0000005", "1", 1e-6, "passed"),          # a float against an int, within
    ("1.00001", "1", 1e-6, "failed"),            # outside
    ("1e-7", "0.0", 1e-6, "passed"),             # the absolute tolerance near zero
    ("[1, (0.30000000000000004, 'a')]", "[1, (0.3, 'a')]", 1e-6, "passed"),  # through containers
    ("{'k': [2.0000001]}", "{'k': [2]}", 1e-6, "passed"),
    ("{'k': 2.1}", "{'k': 2}", 1e-6, "failed"),
    ("[0.3]", "(0.3,)", 0.1, "failed"),          # a list is still not a tuple
    ("float('nan')", "float('nan')", 0.5, "failed"),  # NaN equals nothing
    ("'1.0'", "1.0", 0.5, "failed"),             # no number parsing of strings
    ("True", "1.0", 0.5, "passed"),              # as `==` has it: True == 1.0
    ("2 ** 2000", "1e300", 0.5, "failed"),       # an int past float range is not close
])
def test_tolerance_at_its_edges(service: Service, value: str, expected: str, tolerance: float, status: str):
    assert statuses(service.evaluate(IDENTITY, "f", [(value, expected)], float_tolerance=tolerance)) == [status]


def test_tolerance_applies_to_an_expected_expression_too(service: Service):
    code = "import math\ndef f():\n    return math.pi"
    assert statuses(service.evaluate(code, "f", [("", "round(math.pi, 5)")])) == ["failed"]
    assert statuses(service.evaluate(code, "f", [("", "round(math.pi, 5)")], float_tolerance=1e-5)) == ["passed"]


@pytest.mark.parametrize("tolerance", [-1, 2, "x", "nan"])
def test_a_bad_tolerance_is_422(service: Service, tolerance):
    body = {"id": "scratch-x", "code": ADD, "entry_point": "add", "io_cases": [{"input": "1, 2", "output": "3"}],
            "float_tolerance": tolerance}
    response = service.post("/evaluate_code", body)
    assert response.status_code == 422, response.text
    assert "float_tolerance" in response.text


def test_stop_on_first_failure_skips_the_rest(service: Service):
    code = "import time\ndef f(x):\n    if x == 2:\n        time.sleep(30)\n    return x"
    cases = [("0", "0"), ("1", "7"), ("2", "2"), ("3", "3")]
    result = service.evaluate(code, "f", cases, stop_on_first_failure=True, timeout=2)
    assert result["passed"] is False
    assert statuses(result) == ["passed", "failed", "skipped", "skipped"]
    skipped = result["case_results"][2]
    assert skipped == {**skipped, "case": 2, "input": "2", "passed": False, "got": None, "expected": 2,
                       "error": None, "stdout": ""}
    assert [c["case"] for c in result["case_results"]] == [0, 1, 2, 3]


def test_stop_on_first_failure_counts_errors_and_timeouts(service: Service):
    code = "def f(x):\n    if x == 0:\n        while True:\n            pass\n    return 1 // x"
    result = service.evaluate(code, "f", [("0", "0"), ("1", "1")], stop_on_first_failure=True, timeout=1)
    assert statuses(result) == ["timeout", "skipped"]
    code = "def f(x):\n    return 1 // x"
    result = service.evaluate(code, "f", [("1", "1"), ("0", "0"), ("1", "1")], stop_on_first_failure=True)
    assert statuses(result) == ["passed", "error", "skipped"]
    assert result["case_results"][1]["error"].startswith("ZeroDivisionError")


def test_without_stop_every_case_runs(service: Service):
    result = service.evaluate(IDENTITY, "f", [("1", "2"), ("2", "2")])
    assert statuses(result) == ["failed", "passed"]


def test_all_passing_with_stop_runs_every_case(service: Service):
    result = service.evaluate(IDENTITY, "f", [("1", "1"), ("2", "2")], stop_on_first_failure=True)
    assert result["passed"] is True and statuses(result) == ["passed", "passed"]
