"""Test-code mode (docs/api.md §4.2, §7.7): a hostile SOLUTION run through the real service
against tests it should fail. The verdict is the tests' own; the solution's only say in
it is what it returns and prints. Every attack here is a wrong solution (its honest
answer fails, usually `assert f(1) == <a secret of this run>`), and each must end in a
case that is not "passed" (nor "skipped", which also counts as passed) and a submission
that is not passed. A control beside each attack (the same tests with an honest
solution, or the same mechanism used legitimately) passes, so the attack tests can fail.

The hostile solutions are tests/security/hostile/tests_*.py. Three of these attacks
passed against the first version of the mode and are fixed: a vanished solution taken
for one that raised, a module of the solution's naming imported by the tests, and the
tests read from the solution's memory."""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest

from tests.security.support import hostile
from tests.support.service import Service

SCRATCH = "scratch-test-code-verdicts"
NOT_PASSING = ("failed", "error", "memory", "crashed", "timeout")


def evaluate(service: Service, code: str, tests: str, entry_point: str | None = None, **extra: Any) -> dict:
    body: dict[str, Any] = {"id": SCRATCH, "code": code, "tests": tests, "timeout": 5, **extra}
    if entry_point is not None:
        body["entry_point"] = entry_point
    response = service.post("/evaluate_code", body)
    assert response.status_code == 200, response.text
    return response.json()


def secret() -> int:
    """An expected value no solution can know (unless it reads the tests)."""
    return 10**9 + secrets.randbelow(10**12)


def statuses(result: dict) -> list[str]:
    return [case["status"] for case in result["case_results"]]


def assert_nothing_passed(result: dict, allowed: tuple[str, ...] = NOT_PASSING) -> None:
    assert result["case_results"], result
    for case in result["case_results"]:
        assert case["status"] in allowed and case["passed"] is False, case
    assert result["passed"] is False, result


def assert_all_passed(result: dict) -> None:
    assert statuses(result) == ["passed"] * len(result["case_results"]), result
    assert result["passed"] is True, result


# --- 1. a forged report frame --------------------------------------------------------------

@pytest.mark.parametrize("when", ["at import", "in the call, then exit", "in the call, then return"])
def test_a_report_frame_forged_by_the_solution_does_not_pass(service: Service, when: str):
    code = hostile("tests_forge_report.py")
    if when == "at import":
        code = "FORGE_AT_IMPORT = True\n" + code
    then = "return" if when.endswith("return") else "exit"
    value = secret()
    tests = f"assert f(1, then={then!r}) == {value}\nassert f(2, then={then!r}) == {value}\n"
    result = evaluate(service, code, tests)
    # A frame written to the socket to the tests is read there as the solution's answer (an
    # error); having answered, the solution exits (an error) or its 0 fails the assert.
    assert_nothing_passed(result, ("failed", "error") if then == "return" else ("error",))
    if when == "at import":
        assert all("ProcessExit" in case["error"] for case in result["case_results"]), result


def test_the_forged_frame_is_what_a_passing_report_looks_like(service: Service):
    """The control: the very frame the solution forges, written by the TESTS to their own
    descriptor 3, is taken as a pass (the tests are trusted); so the attack above fails
    because the solution cannot reach the pipe, not because its frame is malformed."""
    tests = ("import gc, json, os, struct\n"
             "token = next(o.token for o in gc.get_objects() if type(o).__name__ == 'CaseMessage')\n"
             "data = json.dumps({'outcome': 'test', 'status': 'passed', 'got': None, 'expected': None, "
             "'error': None, 'stdout': '', 'token': token}).encode()\n"
             "assert os.write(3, struct.pack('>I', len(data)) + data) and os._exit(0)\n")
    assert_all_passed(evaluate(service, "def f(x):\n    return 0\n", tests))


# --- 2. the tests' process through /proc and system calls ------------------------------------

def probes(case: dict) -> dict[str, Any]:
    (line,) = [line for line in case["stdout"].splitlines() if line.startswith("PROBE ")]
    return json.loads(line.removeprefix("PROBE "))


def test_the_solution_cannot_reach_the_tests_process(service: Service):
    value = secret()
    tests = f"assert probe('parent') == {value}\nassert probe('child') == {value}\n"
    result = evaluate(service, hostile("tests_probe_parent.py"), tests)
    assert_nothing_passed(result, ("failed",))
    parent, child = (probes(case) for case in result["case_results"])
    assert parent["target"] == "parent" and parent["pid"] > 1, parent
    # the tests' process: not one of its memory, descriptors, environment or pipe
    reached = {name: outcome for name, outcome in parent["results"].items() if outcome.startswith("ok")}
    assert reached == {}, parent
    for name, outcome in parent["results"].items():
        assert outcome.startswith(("PermissionError", "FileNotFoundError", "ProcessLookupError")), (name, outcome)
    # the control: the same probes reach a process of the solution's own (same uid, dumpable)
    for name in ("read_mem", "write_mem", "write_fd3", "environ", "list_fds", "fd3_received"):
        assert child["results"][name].startswith("ok"), child


# --- 3. answers that claim to equal anything -------------------------------------------------

def claims_tests(value: int) -> str:
    word = f"secret-{value}"
    return (
        "import math\nimport unittest\n"
        f"assert f('always') == {value}\n"
        f"assert {value} == f('always')\n"
        f"assert not (f('always') != {value})\n"
        f"assert f('always') in [{value}]\n"
        f"assert [f('always')] == [{value}]\n"
        f"assert (f('always'),) == ({value},)\n"
        f"assert {{'k': f('always')}} == {{'k': {value}}}\n"
        f"assert abs(f('always') - {value}) < 1e-9\n"
        f"assert f('always') - {value} < 1e-9\n"
        f"assert math.isclose(f('always'), {value})\n"
        f"assert f('int') == {value}\n"
        f"assert f('str') == {word!r}\n"
        f"assert f('list') == [{value}]\n"
        f"assert f('float') == {value}\n"
        f"assert abs(f('float') - {value}) < 1e-9\n"
        f"assert f('liar') == {value}\n"
        f"assert list(f('gen')) == [{value}]\n"
        "class Claims(unittest.TestCase):\n"
        f"    def test_equal(self):\n        self.assertEqual(f('always'), {value})\n"
        f"    def test_almost_equal(self):\n        self.assertAlmostEqual(f('always'), {value})\n"
        f"    def test_true(self):\n        self.assertTrue(f('always') == {value})\n"
        f"    def test_in(self):\n        self.assertIn(f('always'), [{value}])\n"
        f"    def test_list_equal(self):\n        self.assertListEqual(f('list'), [{value}])\n"
        f"    def test_count_equal(self):\n        self.assertCountEqual(list(f('gen')), [{value}])\n"
        f"    def test_int_equal(self):\n        self.assertEqual(f('int'), {value})\n"
    )


HONEST_CLAIMS = (
    "def f(kind):\n"
    "    value = {value}\n"
    "    if kind == 'str':\n        return 'secret-' + str(value)\n"
    "    if kind == 'list':\n        return [value]\n"
    "    if kind == 'float':\n        return float(value)\n"
    "    if kind == 'gen':\n        return (v for v in [value])\n"
    "    return value\n"
)


def test_answers_claiming_to_equal_anything_do_not_pass(service: Service):
    value = secret()
    tests = claims_tests(value)
    result = evaluate(service, hostile("tests_claims.py"), tests)
    assert len(result["case_results"]) == 24
    assert_nothing_passed(result, ("failed", "error"))
    named = {case["input"]: case for case in result["case_results"]}
    # a subclass of a builtin crosses as its base value: it is compared as 0, "wrong", [0]
    assert named[f"assert f('int') == {value}"]["got"] == 0
    assert named[f"assert f('str') == 'secret-{value}'"]["got"] == "wrong"
    assert named[f"assert f('list') == [{value}]"]["got"] == [0]
    assert named[f"assert f('liar') == {value}"]["got"] == 0
    # ordering and arithmetic on a proxy are refused
    assert named[f"assert abs(f('always') - {value}) < 1e-9"]["status"] == "error"
    # the control: the same tests, an honest solution
    assert_all_passed(evaluate(service, HONEST_CLAIMS.format(value=value), tests))


# --- 4. signals to the tests' process ----------------------------------------------------------

SIGNALLED_TESTS = (
    "try:\n    got = f({how!r})\nexcept KeyboardInterrupt:\n    got = {value}\n"
    "assert got == {value}\n"
)


@pytest.mark.parametrize("how", ["SIGINT", "group-SIGINT", "SIGSTOP+SIGCONT", "SIGSTOP", "SIGKILL", "SIGTERM",
                                 "SIGHUP", "SIGUSR1", "SIGALRM", "SIGPIPE", "SIGCHLD", "SIGURG", "SIGXCPU"])
def test_signals_to_the_tests_process_never_pass(service: Service, how: str):
    value = secret()
    tests = SIGNALLED_TESTS.format(how=how, value=value)
    result = evaluate(service, hostile("tests_signal_parent.py"), tests, timeout=3)
    assert_nothing_passed(result)
    (case,) = result["case_results"]
    if how in ("SIGINT", "SIGKILL", "SIGTERM"):
        assert case["status"] == "crashed", case  # never a KeyboardInterrupt the tests catch
    if how == "SIGSTOP":
        assert case["status"] == "timeout", case


def test_a_keyboard_interrupt_of_the_tests_own_is_caught_by_them(service: Service):
    """The control of the signal tests: their `except KeyboardInterrupt` does catch one."""
    value = secret()
    tests = SIGNALLED_TESTS.format(how="x", value=value).replace("got = f('x')", "raise KeyboardInterrupt")
    assert_all_passed(evaluate(service, "def f(how):\n    return 0\n", tests))
    honest = f"def f(how):\n    return {value}\n"
    assert_all_passed(evaluate(service, honest, SIGNALLED_TESTS.format(how="SIGINT", value=value)))


# --- 5. planted modules ------------------------------------------------------------------------

def unittest_tests(value: int, call: str = "f(1)") -> str:
    return ("import unittest\nclass T(unittest.TestCase):\n"
            f"    def test_answer(self):\n        self.assertEqual({call}, {value})\n")


@pytest.mark.parametrize(("tests", "status"), [
    ("import helper_mod\nassert helper_mod.f(1) == {value}\n", "error"),
    ("from helper_mod import f as g\nassert g(1) == {value}\n", "error"),
    ("import helper_pkg\nassert helper_pkg.f(1) == {value}\n", "error"),
    ("import importlib\nassert importlib.import_module('helper_mod').f(1) == {value}\n", "error"),
    ("assert __import__('helper_mod').f(1) == {value}\n", "error"),
    ("import numpy\nassert numpy.int64(f(1)) == {value}\n", "failed"),
    ("import json\nassert json.loads(str(f(1))) == {value}\n", "failed"),
    ("import sitecustomize\nassert f(1) == {value}\n", "error"),
    ("UNITTEST", "failed"),
], ids=["import", "from-import", "package", "import_module", "__import__", "numpy", "json", "sitecustomize",
        "unittest"])
def test_modules_planted_by_the_solution_are_not_imported_by_the_tests(service: Service, tests: str, status: str):
    value = secret()
    tests = unittest_tests(value) if tests == "UNITTEST" else tests.format(value=value)
    result = evaluate(service, hostile("tests_plant_modules.py"), tests)
    assert_nothing_passed(result, (status,))
    for case in result["case_results"]:
        assert "planted module ran" not in case["stdout"], case
        if status == "error":
            assert "ModuleNotFoundError" in case["error"], case


def test_the_planted_modules_are_there_for_the_tests_to_see(service: Service):
    """The control: the solution did plant them where the tests run; and with a right
    answer the same tests pass beside them (real unittest, json and numpy imported)."""
    names = ["helper_mod.py", "numpy.py", "unittest.py", "json.py", "helper_pkg/__init__.py"]
    tests = "import os\n" + "".join(
        f"assert os.path.isfile({name!r}) and os.path.isfile('/tmp/' + {name!r})\n" for name in names)
    assert_all_passed(evaluate(service, hostile("tests_plant_modules.py"), tests))
    value = secret()
    planting_honest = hostile("tests_plant_modules.py").replace("    return 0\n", f"    return {value}\n")
    assert planting_honest != hostile("tests_plant_modules.py")
    for tests in (unittest_tests(value), f"import json\nassert json.loads(str(f(1))) == {value}\n",
                  f"import numpy\nassert numpy.int64(f(1)) == {value}\n"):
        assert_all_passed(evaluate(service, planting_honest, tests))


# --- 6. patched builtins and look-alike globals -------------------------------------------------

BUILTIN_TESTS = (
    "import unittest\n"
    "assert sorted(f()) == ['a', 'b', 'c']\n"
    "assert len(f()) == 3\n"
    "assert isinstance(f(), str) and len(f()) == 3\n"
    "assert sorted(f()) == ['a', 'b', 'c'], 'with a message'\n"
    "class T(unittest.TestCase):\n"
    "    def test_sorted(self):\n        self.assertEqual(sorted(f()), ['a', 'b', 'c'])\n"
    "    def test_len(self):\n        self.assertEqual(len(f()), 3)\n"
)


def test_builtins_patched_by_the_solution_are_not_the_tests(service: Service):
    result = evaluate(service, hostile("tests_patch_builtins.py"), BUILTIN_TESTS)
    assert len(result["case_results"]) == 6
    assert_nothing_passed(result, ("failed",))
    sorted_case = result["case_results"][0]
    assert (sorted_case["got"], sorted_case["expected"]) == (["z", "z"], ["a", "b", "c"]), sorted_case
    # the control: an honest solution passes the same tests
    assert_all_passed(evaluate(service, "def f():\n    return 'cab'\n", BUILTIN_TESTS))


# --- 7. exceptions that look like a skip or an ending ---------------------------------------------

RAISED = ["skip", "skip-subclass", "exit", "interrupt", "generator-exit"]


def test_exceptions_of_the_solution_never_become_a_skip_or_a_pass(service: Service):
    value = secret()
    methods = "".join(f"    def test_{kind.replace('-', '_')}(self):\n        self.assertEqual(f({kind!r}), {value})\n"
                      for kind in RAISED)
    statements = "".join(f"assert f({kind!r}) == {value}\n" for kind in RAISED)
    # (a SystemExit the solution raises is one in the tests too: `except SystemExit` there
    # would catch it, as in one process; a KeyboardInterrupt never crosses as one)
    catching = f"try:\n    got = f('interrupt')\nexcept KeyboardInterrupt:\n    got = {value}\nassert got == {value}\n"
    tests = "import unittest\n" + statements + catching + "class T(unittest.TestCase):\n" + methods
    result = evaluate(service, hostile("tests_raise.py"), tests)
    assert len(result["case_results"]) == 2 * len(RAISED) + 1
    assert_nothing_passed(result, ("error",))
    for case in result["case_results"]:
        assert not case["error"].startswith("Skipped"), case


def test_a_skip_of_the_tests_own_is_a_skip(service: Service):
    """The control: skipping is a channel (a skipped test does not fail the submission),
    but only the tests' own skip uses it."""
    tests = "import unittest\nclass T(unittest.TestCase):\n    def test_later(self):\n        self.skipTest('later')\n"
    result = evaluate(service, hostile("tests_raise.py"), tests)
    assert statuses(result) == ["skipped"] and result["passed"] is True, result


# --- 8. the check(candidate) form -----------------------------------------------------------------

@pytest.mark.parametrize(("how", "status"), [
    ("replace-check", "failed"), ("exit", "error"), ("sys-exit", "error"), ("kill-self", "crashed"),
    ("kill-parent", "crashed"),
])
def test_a_candidate_cannot_replace_check_or_end_it(service: Service, how: str, status: str):
    value = secret()
    tests = f"def check(candidate):\n    assert candidate({how!r}) == {value}\n"
    result = evaluate(service, hostile("tests_check_form.py"), tests, "f")
    assert_nothing_passed(result, (status,))
    assert_all_passed(evaluate(service, f"def f(how):\n    return {value}\n", tests, "f"))  # the control


# --- beyond the list: vanishing instead of raising ------------------------------------------------

VANISH_TESTS = [
    "try:\n    f({how!r})\nexcept:\n    pass\nelse:\n    assert False, 'f must raise'\n",
    "try:\n    f({how!r})\nexcept BaseException:\n    pass\nelse:\n    assert False, 'f must raise'\n",
    "import unittest\nclass T(unittest.TestCase):\n    def test_raises(self):\n"
    "        with self.assertRaises(BaseException):\n            f({how!r})\n",
]


@pytest.mark.parametrize("tests", VANISH_TESTS, ids=["bare-except", "except-BaseException", "assertRaises"])
@pytest.mark.parametrize("how", ["exit", "kill", "close", "garbage"])
def test_a_solution_that_vanishes_is_not_taken_for_one_that_raised(service: Service, how: str, tests: str):
    """`f must raise`: a solution that does not raise but ends its own process (or its end
    of the socket) must not pass as one that raised. In one process, os._exit would end
    the tests too; here the tests' process only learns the solution is gone, and a bare
    `except:` must not take that for the exception it wanted: once the solution is gone,
    the case reports how it ended, whatever the tests did with the news."""
    code = hostile("tests_vanish.py")
    # the controls: raising passes these tests, answering fails them
    assert_all_passed(evaluate(service, code, tests.format(how="raise")))
    assert_nothing_passed(evaluate(service, code, tests.format(how="return")), ("failed",))
    result = evaluate(service, code, tests.format(how=how))
    assert_nothing_passed(result)


# --- beyond the list: a module of the solution's naming, imported by the tests --------------------

MODULE_TESTS = {
    "statement": ("assert f(1) == {value}\n", None),
    "check": ("def check(candidate):\n    assert candidate(1) == {value}\n", "answer"),
    "unittest": ("import unittest\nclass T(unittest.TestCase):\n"
                 "    def test_answer(self):\n        self.assertEqual(answer(1), {value})\n", None),
}


@pytest.mark.parametrize("form", list(MODULE_TESTS))
@pytest.mark.parametrize("via", ["numpy", "flask", "IPython"])
def test_a_global_module_of_the_solution_cannot_run_code_in_the_tests(service: Service, via: str, form: str):
    """A solution's global that is a module is imported in the tests' process by its
    __name__ (docs/api.md §4.2: "modules the solution imported are imported by the tests
    too"). The name is the solution's to choose, and importing `flask.__main__` or
    `IPython.__main__` runs a command line that imports or runs code from the working
    directory, which the solution writes. The tests take a module of the solution only
    if their process has already loaded it, else a proxy: nothing is imported for it."""
    value = secret()
    tests, entry_point = MODULE_TESTS[form]
    code = f"VIA = {via!r}\n" + hostile("tests_module_by_name.py")
    result = evaluate(service, code, tests.format(value=value), entry_point)
    assert_nothing_passed(result)
    for case in result["case_results"]:
        assert "planted code ran" not in case["stdout"], case


def test_a_module_the_solution_imported_is_the_tests_own_too(service: Service):
    """The control of the above: the feature it abuses works for an honest module."""
    value = secret()
    code = f"import math\ndef f(x):\n    return {value}\n"
    assert_all_passed(evaluate(service, code, f"assert math.floor(f(1) + 0.5) == {value}\n"))


# --- beyond the list: the tests read from the solution's own memory -------------------------------

def test_the_solution_cannot_read_the_tests_it_is_judged_by(service: Service):
    """The expected values are the tests' secret, as a literal expected output is a
    function case's (docs/api.md §7.7). The solution's process is a fork of the tests'
    process: it is forked before the tests are read (they come on a pipe afterwards), so
    nothing of them is in its memory for a search to find."""
    first, second = secret(), secret()
    result = evaluate(service, hostile("tests_read_tests.py"), f"assert f(1) == {first}\nassert f(2) == {second}\n")
    assert_nothing_passed(result, ("failed",))
    assert [case["got"] for case in result["case_results"]] == [None, None], result


def test_the_memory_search_finds_what_is_legitimately_there(service: Service):
    """The control: the same search finds an assert planted in the solution's own code
    (the tests here hold no literal it could take instead)."""
    tests = "assert f(-7) == 'found in my ' + 'own memory'\n"
    assert_all_passed(evaluate(service, hostile("tests_read_tests.py"), tests))
