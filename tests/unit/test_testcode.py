"""The pure parts of test-code mode: planning the tests (protocol.testplan), preparing one
test's code with explaining asserts (supervisor.sandbox.testcode.asserts), and the crossing of
values with references (supervisor.sandbox.values)."""

from __future__ import annotations

from typing import Any

import pytest

from protocol import testplan
from supervisor.sandbox import values
from supervisor.sandbox.testcode import asserts


def kinds(tests: str, entry_point: str | None = "f") -> list[tuple[str, str]]:
    return [(t.kind, t.name) for t in testplan.plan(tests, entry_point)]


def test_each_top_level_assert_or_statement_holding_one_is_a_case():
    tests = ("import math\nx = 2\nassert f(x) == 4\nfor i in range(3):\n    assert f(i) == 2 * i\n"
             "def helper():\n    assert f(0) == 0\nhelper()\nif x:\n    y = 1\n")
    assert kinds(tests) == [("statement", "assert f(x) == 4"),
                            ("statement", "for i in range(3): assert f(i) == 2 * i"),
                            ("statement", "helper()")]


def test_check_is_a_case_unless_the_tests_call_it_themselves():
    check = "METADATA = {}\ndef check(candidate):\n    assert candidate(1) == 1\n"
    assert kinds(check, "f") == [("check", "check(f)")]
    assert kinds(check + "check(f)\n") == [("statement", "check(f)")]
    with pytest.raises(testplan.InvalidTests, match="give entry_point"):
        testplan.plan(check, None)


def test_unittest_methods_with_inherited_ones_in_sorted_order():
    tests = ("import unittest\nclass Base(unittest.TestCase):\n    def test_b(self): pass\n    def helper(self): pass\n"
             "class Child(Base):\n    def test_a(self): pass\nclass _Mixin(unittest.TestCase):\n"
             "    def test_hidden(self): pass\nclass NotATest:\n    def test_x(self): pass\n")
    assert kinds(tests) == [("unittest", "Base.test_b"), ("unittest", "Child.test_a"), ("unittest", "Child.test_b")]


@pytest.mark.parametrize(("tests", "message"), [
    ("x = 1\n", "tests hold no test"),
    ("def f(:\n", "tests do not compile: SyntaxError"),
    ("(" * 300 + ")" * 300, "tests do not compile"),
    ("class T:\n    def test_a(self): pass\n", "tests hold no test"),
])
def test_tests_that_cannot_be_planned_say_why(tests: str, message: str):
    with pytest.raises(testplan.InvalidTests, match=message):
        testplan.plan(tests, "f")


def run_prepared(tests: str, index: int, namespace: dict[str, Any]) -> tuple[asserts.PreparedTest, dict[str, Any]]:
    test = testplan.plan(tests, "f")[index]
    prepared = asserts.prepare(tests, test)
    scope = {**asserts.new_namespace(prepared.explainer), **namespace}
    exec(prepared.code, scope)  # noqa: S102 - the tests' own code, in this test
    return prepared, scope


def test_a_statement_case_runs_the_setup_before_it_and_no_other_case():
    tests = "calls = []\nassert f(1) == 99\ncalls.append('setup')\nassert f(2) == 2\n"
    seen: list[int] = []

    def f(x: int) -> int:
        seen.append(x)
        return x

    _, scope = run_prepared(tests, 1, {"f": f})
    assert seen == [2] and scope["calls"] == ["setup"]


def test_a_failing_comparison_explains_itself_and_keeps_both_sides():
    tests = "assert f(1) + 1 == [1, 2], 'the sum'\n"
    with pytest.raises(AssertionError) as caught:
        run_prepared(tests, 0, {"f": lambda x: x})
    assert str(caught.value) == "the sum\nassert f(1) + 1 == [1, 2]\n  left:  2\n  right: [1, 2]"


def test_a_failing_truth_shows_its_value_and_a_passing_assert_is_silent():
    with pytest.raises(AssertionError) as caught:
        run_prepared("assert f(0)\n", 0, {"f": lambda x: x})
    assert str(caught.value) == "assert f(0)\n  value: 0"
    prepared, _ = run_prepared("assert 3 in f([1, 2, 3])\nassert f(1) is not None\n", 1, {"f": lambda x: x})
    assert prepared.explainer.op == "is not"


def test_a_plan_asked_again_is_the_same_and_the_caller_owns_its_list():
    tests = "def check(candidate):\n    assert candidate(1) == 1\n"
    first = testplan.plan(tests, "f")
    first.append(testplan.PlannedTest("statement", "changed by the caller"))
    assert testplan.plan(tests, "f") == [testplan.PlannedTest("check", "check(f)")]
    assert testplan.plan(tests, " g ") == [testplan.PlannedTest("check", "check(g)")]
    for _ in range(2):  # an error is never kept as a plan
        with pytest.raises(testplan.InvalidTests, match="give entry_point"):
            testplan.plan(tests, None)


def test_every_assert_is_named_by_its_own_source_past_wide_characters_and_lines():
    tests = ("def check(candidate):\n    assert candidate('héllo') == 'ħ', 'ü'\n"
             "    assert (candidate(1)\n            ==  [1,\n 2])\n    assert candidate('€') in ('€',)\n")
    prepared = asserts.prepare(tests, testplan.plan(tests, "f")[0])
    assert prepared.explainer.sources == ["candidate('héllo') == 'ħ'", "candidate(1) == [1, 2]",
                                          "candidate('€') in ('€',)"]
    with pytest.raises(AssertionError) as caught:
        run_check(prepared, lambda x: "ħ" if x == "héllo" else x)
    assert str(caught.value) == "assert candidate(1) == [1, 2]\n  left:  1\n  right: [1, 2]"


def test_the_globals_a_test_reads_leave_out_attribute_names():
    tests = "import math\nassert helper(math.floor(1.5)) == 1\n"
    prepared = asserts.prepare(tests, testplan.plan(tests, None)[0])
    assert {"helper", "floor"} <= set(prepared.global_names)
    assert "helper" in prepared.loaded_globals() and "floor" not in prepared.loaded_globals()


def test_the_names_a_test_needs_include_those_of_its_functions():
    prepared = asserts.prepare("def check(candidate):\n    assert helper(candidate(1)) == 1\n",
                                testplan.plan("def check(candidate):\n    assert helper(candidate(1)) == 1\n", "f")[0])
    assert "helper" in prepared.global_names


class Opaque:
    pass


def test_references_cross_where_a_value_has_no_builtin_form():
    table: list[Any] = []

    def refer(value: Any) -> dict[str, Any]:
        table.append(value)
        return {"$": "ref", "id": len(table) - 1}

    thing = Opaque()
    encoded = values.encode([1, (thing, "a"), {"k": thing}], refer)
    assert encoded == [1, {"$": "tuple", "v": [{"$": "ref", "id": 0}, "a"]},
                       {"$": "dict", "v": [["k", {"$": "ref", "id": 1}]]}]
    rebuilt = values.decode(encoded, lambda ref: table[ref["id"]])
    assert rebuilt == [1, (thing, "a"), {"k": thing}]
    with pytest.raises(ValueError):
        values.decode(encoded)  # without a resolver a reference is malformed (the init never takes one)
    assert values.encode(thing) == {"$": "opaque", "repr": repr(thing)}


def run_check(prepared: asserts.PreparedTest, candidate: Any) -> None:
    scope = asserts.new_namespace(prepared.explainer)
    exec(prepared.code, scope)  # noqa: S102 - the test's own tests
    scope["check"](candidate)
