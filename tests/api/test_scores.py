"""Partial credit (docs/api.md §4): every case result has a `score` (1.0 when it passed,
else 0.0; skipped cases 0), and every evaluation reply has `score`, the mean over its
cases (0.0 with none), and `passed_count`, by every path: function cases, program cases,
tests, a compile error, a batch."""

from __future__ import annotations

from typing import Any

from tests.support.service import Service

ADD = "def add(a, b):\n    return a + b\n"


def post(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    response = service.post("/evaluate_code", {"id": "scratch-scores", **body})
    assert response.status_code == 200, response.text
    return response.json()


def scores(result: dict[str, Any]) -> list[float]:
    return [case["score"] for case in result["case_results"]]


def test_function_cases(service: Service):
    cases = [("1, 2", "3"), ("1, 1", "3"), ("2, 2", "4"), ("'a', 1", "2")]
    result = service.evaluate(ADD, "add", cases)
    assert [c["status"] for c in result["case_results"]] == ["passed", "failed", "passed", "error"]
    assert scores(result) == [1.0, 0.0, 1.0, 0.0]
    assert (result["score"], result["passed_count"], result["passed"]) == (0.5, 2, False)
    every = service.evaluate(ADD, "add", cases[:1] + cases[2:3], isolation="case")
    assert (every["score"], every["passed_count"], every["passed"]) == (1.0, 2, True)


def test_a_mean_that_is_no_round_number_is_rounded(service: Service):
    result = service.evaluate(ADD, "add", [("1, 2", "3"), ("1, 1", "2"), ("1, 1", "3")])
    assert (result["score"], result["passed_count"]) == (0.666667, 2)


def test_skipped_cases_count_zero(service: Service):
    result = service.evaluate(ADD, "add", [("1, 2", "3"), ("1, 1", "3"), ("2, 2", "4"), ("3, 3", "6")],
                              stop_on_first_failure=True)
    assert [c["status"] for c in result["case_results"]] == ["passed", "failed", "skipped", "skipped"]
    assert scores(result) == [1.0, 0.0, 0.0, 0.0]
    assert (result["score"], result["passed_count"]) == (0.25, 1)


def test_program_cases_and_limits(service: Service):
    code = "n = int(input())\nif n == 3:\n    print('x' * 1000000)\nprint(n * 2)\n"
    result = post(service, {"code": code, "io_cases": [{"stdin": "1", "stdout": "2"}, {"stdin": "2", "stdout": "5"},
                                                       {"stdin": "3", "stdout": "6"}]})
    assert [c["status"] for c in result["case_results"]] == ["passed", "failed", "output_limit"]
    assert scores(result) == [1.0, 0.0, 0.0]
    assert (result["score"], result["passed_count"]) == (0.333333, 1)


def test_a_compile_error_scores_zero(service: Service):
    result = post(service, {"code": "", "compile": "exit 1", "cmd": "true",
                            "io_cases": [{"stdin": "", "stdout": ""}, {"stdin": "", "stdout": ""}]})
    assert result["error"].startswith("CompileError") and scores(result) == [0.0, 0.0]
    assert (result["score"], result["passed_count"], result["passed"]) == (0.0, 0, False)
    syntax = service.evaluate("def add(a, b) return", "add", [("1, 2", "3")])
    assert syntax["error"] is not None and (syntax["score"], syntax["passed_count"]) == (0.0, 0)


def test_tests(service: Service):
    tests = "assert add(1, 2) == 3\nassert add(1, 1) == 3\nassert add(0, 0) == 0\n"
    result = post(service, {"code": ADD, "entry_point": "add", "io_cases": [{"input": "2, 2", "output": "4"}],
                            "tests": tests})
    assert [c["status"] for c in result["case_results"]] == ["passed", "passed", "failed", "passed"]
    assert (result["score"], result["passed_count"]) == (0.75, 3)


def test_a_test_the_tests_skip_counts_as_it_passes(service: Service):
    """unittest's skip does not fail the submission (§4.2), so it does not lower its score."""
    tests = ("import unittest\nclass T(unittest.TestCase):\n"
             "    def test_a(self):\n        self.assertEqual(add(1, 2), 3)\n"
             "    @unittest.skip('later')\n    def test_b(self):\n        pass\n")
    result = post(service, {"code": ADD, "tests": tests})
    assert [c["status"] for c in result["case_results"]] == ["passed", "skipped"]
    assert (result["passed"], result["score"], result["passed_count"]) == (True, 1.0, 2)


def test_no_case_scores_zero(service: Service):
    result = post(service, {"code": ADD, "entry_point": "add", "io_cases": []})
    assert result == {**result, "passed": True, "case_results": [], "score": 0.0, "passed_count": 0}


def test_each_submission_of_a_batch(service: Service):
    submissions = [{"id": "scratch-scores", "code": ADD, "entry_point": "add",
                    "io_cases": [{"input": "1, 2", "output": "3"}, {"input": "1, 2", "output": output}]}
                   for output in ("3", "4")]
    response = service.post("/evaluate_batch", {"submissions": submissions})
    assert response.status_code == 200, response.text
    both, half = response.json()["results"]
    assert (both["status"], both["score"], both["passed_count"]) == (200, 1.0, 2)
    assert (half["status"], half["score"], half["passed_count"]) == (200, 0.5, 1)
    assert scores(half) == [1.0, 0.0]
