"""The evaluation semantics that need no sandbox: argument parsing, binding, values."""

from __future__ import annotations

import ast
import fractions
import json
import math
from typing import Any

import pytest

from supervisor.sandbox import function_case as ev
from supervisor.sandbox import values
from tests.support.numbers import digits


def call(source: str, entry: str, text: str):
    namespace = ev.new_namespace()
    exec(compile(source, "<t>", "exec"), namespace)
    func = ev.resolve_unbound_method(eval(entry, namespace), namespace)
    args, kwargs = ev.build_arguments(text, namespace)
    args, kwargs = ev.bind_arguments(func, args, kwargs)
    return func(*args, **kwargs)


@pytest.mark.parametrize("text, args, kwargs", [
    ("", [], {}),
    ("1, 2", [1, 2], {}),
    ("a=1, b=2", [], {"a": 1, "b": 2}),
    ("[1, 2, 3]", [[1, 2, 3]], {}),
    ("'x', k=3", ["x"], {"k": 3}),
    ("(1, 2), {'a': [None, True]}", [(1, 2), {"a": [None, True]}], {}),
    ("-5, 1e3, 2j", [-5, 1000.0, 2j], {}),
    ("*[1, 2], **{'z': 3}", [1, 2], {"z": 3}),
    ("set()", [set()], {}),
])
def test_build_arguments(text, args, kwargs):
    assert ev.build_arguments(text, ev.new_namespace()) == (args, kwargs)


def test_expressions_are_evaluated_in_the_solution_globals():
    namespace = ev.new_namespace()
    namespace["K"] = 7
    args, _ = ev.build_arguments("float('inf'), K * 2", namespace)
    assert math.isinf(args[0]) and args[1] == 14


@pytest.mark.parametrize("text", ["1)", "1), (2", "a=", "x y"])
def test_malformed_input_is_a_syntax_error(text):
    with pytest.raises(SyntaxError):
        ev.build_arguments(text, ev.new_namespace())


@pytest.mark.parametrize("source, entry, text, expected", [
    ("def f(nums):\n    return sum(nums)", "f", "1, 2, 3", 6),           # one parameter: packed as a tuple
    ("def f(nums):\n    return nums", "f", "1, 2", (1, 2)),
    ("def f(a, b):\n    return a - b", "f", "5, 3", 2),                  # binds separately
    ("def f(a, b=10):\n    return a + b", "f", "1", 11),
    ("def f(*xs):\n    return len(xs)", "f", "1, 2, 3", 3),
    ("def f(a, *, k):\n    return a * k", "f", "2, k=4", 8),
    ("class Solution:\n    def s(self, nums):\n        return max(nums)", "Solution().s", "3, 9, 4", 9),
    ("class Solution:\n    def s(self, a, b):\n        return a * b", "Solution.s", "3, 4", 12),
    ("class Solution:\n    def s(self, nums):\n        return nums", "Solution.s", "[1], [2]", ([1], [2])),
    ("f = lambda x: x + 1", "f", "41", 42),
])
def test_binding_rules(source, entry, text, expected):
    assert call(source, entry, text) == expected


def test_unbindable_arguments_raise_the_callables_own_error():
    with pytest.raises(TypeError):
        call("def f(a, b):\n    return a", "f", "1, 2, 3")


@pytest.mark.parametrize("value, wire", [
    (None, None), (True, True), (3, 3), (2 ** 100, 2 ** 100), (1.5, 1.5), ("s", "s"),
    ((1, [2, (3,)]), [1, [2, [3]]]), ({"a": (1,)}, {"a": [1]}),
    ({1, 2}, "{1, 2}"), (b"x", "b'x'"), (float("inf"), "inf"), (float("nan"), "nan"),
    ({1: "a"}, "{1: 'a'}"), ([1, {2}], "[1, {2}]"), ("\ud800", "\ud800"),
])
def test_to_wire(value, wire):
    assert values.to_wire(value) == wire


def test_safe_repr_survives_a_raising_repr_and_caps_length():
    class Bad:
        def __repr__(self):
            raise RuntimeError("no")
    assert "Bad" in values.safe_repr(Bad())
    assert len(values.safe_repr("x" * 50_000)) < values.REPR_LIMIT + 50


@pytest.mark.parametrize("value", [
    None, True, 0, -5, 2 ** 100, 1.5, float("inf"), -0.0, "s", "\ud800", b"\x00x",
    (1, [2, (3,)]), {1, 2}, frozenset({(1, 2)}), {"a": (1,), 2: [None]}, 1 + 2j, [], (), {},
])
def test_values_cross_the_boundary_with_their_exact_types(value):
    wire = json.loads(json.dumps(values.encode(value)))
    back = values.decode(wire)
    assert back == value and type(back) is type(value)
    assert not values.has_opaque(values.encode(value))


def test_an_integer_past_the_str_limit_crosses_exactly():
    value = math.factorial(2000)
    assert values.decode(json.loads(json.dumps(values.encode(value)))) == value


def test_a_list_and_a_tuple_stay_different():
    assert values.decode(values.encode((1, 2))) != [1, 2]


def test_values_of_the_solutions_own_classes_are_opaque():
    class Always:
        def __eq__(self, other):
            return True
    for value in (Always(), [1, Always()]):
        encoded = values.encode(value)
        assert values.has_opaque(encoded)
        assert isinstance(values.decode(encoded), values.Opaque)


def test_builtin_subclasses_and_numeric_types_cross_as_plain_values():
    import decimal
    import fractions

    class Liar(int):
        def __eq__(self, other):
            return True
    assert values.decode(values.encode(Liar(3))) == 3 and type(values.decode(values.encode(Liar(3)))) is int
    assert values.decode(values.encode(fractions.Fraction(1, 2))) == 0.5
    assert values.decode(values.encode(decimal.Decimal("1.25"))) == decimal.Decimal("1.25")

    class ArrayLike:
        def tolist(self):
            return [1, 2]
    assert values.decode(values.encode(ArrayLike())) == [1, 2]


@pytest.mark.parametrize("garbage", [{"$": "nope"}, {"x": 1}, {"$": "tuple"}, {"$": "int", "hex": "zz"},
                                     {"$": "set", "v": [[1]]}])
def test_a_forged_or_garbled_value_is_refused(garbage):
    with pytest.raises(ValueError):
        values.decode(garbage)


def test_expected_literals_are_parsed_without_running_anything():
    assert values.parse_literal(digits(math.factorial(2000))) == math.factorial(2000)
    for text in ("frozenset()", "float('inf')", "__import__('os').system('x')", "[" * 2000):
        with pytest.raises(values.NotLiteral):
            values.parse_literal(text)


def test_huge_integers_show_as_decimal_text():
    assert values.to_wire(math.factorial(2000)) == digits(math.factorial(2000))
    assert values.to_wire(1 << 200_000).startswith("<int of about")


@pytest.mark.parametrize("text, expected", [("3", 3), ("[1, 2]", [1, 2]), ("", None), ("  'a' ", "a")])
def test_parse_expected_literals(text, expected):
    assert ev.parse_expected(text, ev.new_namespace()) == expected


def test_run_case_reports():
    code = ev.compile_solution("def f(x):\n    print('p', x)\n    if x == 0:\n        raise ValueError('zero')\n"
                               "    return x * 2")
    returned = ev.run_case(code, "f", "2", "4", 100)
    assert returned["outcome"] == "returned" and returned["stdout"] == "p 2\n" and returned["got"] == 4
    assert returned["eq"] is True and returned["expected"] == 4
    withheld = ev.run_case(code, "f", "2", None, 100)
    assert withheld["got"] == 4 and withheld["expected"] is None and withheld["eq"] is False
    error = ev.run_case(code, "f", "0", "0", 100)
    assert error["outcome"] == "error" and error["error"].startswith("ValueError: zero\n")
    assert 'File "<solution>", line 4' in error["error"]
    exited = ev.run_case(ev.compile_solution("import sys\ndef f():\n    sys.exit(3)"), "f", "", "None", 100)
    assert exited["outcome"] == "error" and exited["error"].startswith("SystemExit: 3")
    undefined = ev.run_case(code, "g", "1", "1", 100)
    assert undefined["outcome"] == "error" and undefined["error"].startswith("NameError")


def test_harness_frames_are_hidden_from_tracebacks():
    try:
        ev.compile_solution("def f(:\n    pass")
    except SyntaxError as exc:
        text = ev.format_error(exc)
    assert "supervisor" not in text and "SyntaxError" in text


def test_stdout_is_capped():
    code = ev.compile_solution("def f():\n    print('x' * 1000)\n    return 1")
    assert ev.run_case(code, "f", "", "1", 10)["stdout"] == "x" * 10


def test_solution_name_is_not_main():
    code = ev.compile_solution("ran = False\nif __name__ == '__main__':\n    ran = True\n"
                               "def f():\n    return (ran, __name__)")
    assert ev.run_case(code, "f", "", "(False, 'solution')", 100)["eq"] is True


@pytest.mark.parametrize("text", [
    "3", "-0", "1.5e-3", "1E400", "[1, 2.0, -3]", '{"a": [1, {"b": "c"}]}', '"é\\u00e9\\n\\t\\\\"', "[]", "{}",
    '["true", "null", "a, true]"]', '"x/y"', " [1] ", "123456789012345678901234567890",
])
def test_json_and_python_read_an_expected_literal_alike(text):
    """The init reads JSON text with JSON's parser (much faster); it must mean what Python
    makes of it, type for type."""
    got, expected = values.parse_literal(text), ast.literal_eval(text.strip())
    assert got == expected and type(got) is type(expected)
    assert repr(got) == repr(expected)


@pytest.mark.parametrize(("text", "expected"), [
    ('"\\/"', "\\/"), ('"\\ud83d\\ude00"', "\ud83d\ude00"),  # JSON would read "/" and one character
])
def test_where_json_reads_otherwise_python_decides(text, expected):
    assert values.parse_literal(text) == expected


@pytest.mark.parametrize("text", ["true", "[1, false]", '{"a": null}', "NaN", "[Infinity]", "-Infinity"])
def test_json_names_are_no_python_literals(text):
    with pytest.raises(values.NotLiteral):
        values.parse_literal(text)


def test_literal_limits_are_named():
    with pytest.raises(values.LiteralTooLarge, match="10000 decimal digits"):
        values.parse_literal("[" + "7" * 10_001 + "]")
    with pytest.raises(values.LiteralTooLarge, match="10000 decimal digits"):
        values.parse_literal("(" + "7" * 10_001 + ",)")
    assert values.parse_literal("7" * 10_000) == (10 ** 10_000 - 1) // 9 * 7
    long_tuple = "(" + "1, " * (1 << 19) + ")"
    with pytest.raises(values.LiteralTooLarge, match="JSON"):
        values.parse_literal(long_tuple)
    assert values.parse_literal("[" + "1, " * (1 << 19) + "1]") == [1] * ((1 << 19) + 1)


def test_a_fraction_is_rebuilt_as_sent():
    wire = {"$": "fraction", "v": [4, 2]}
    value = values.decode(wire)
    assert type(value) is fractions.Fraction and (value.numerator, value.denominator) == (4, 2)
    assert value != 2  # never equal where its reduced value would not be: it can only fail
    assert values.decode(values.encode(fractions.Fraction(4, 2))) == 2
    for garbage in ({"$": "fraction", "v": [1, 0]}, {"$": "fraction", "v": ["1", 2]}, {"$": "fraction", "v": [1.5, 2]}):
        with pytest.raises(ValueError):
            values.decode(garbage)
    assert values.display_repr(fractions.Fraction(3 ** 100_000, 2)) == "<Fraction holding integers too large to show>"


def test_integers_are_written_out_within_a_digit_budget():
    """Writing an integer in decimal is quadratic: a value shows at most DISPLAY_DIGITS
    digits of large integers; small ones, however many, are shown as ever."""
    assert values.display_repr(set(range(100_000))).startswith("{0, 1, 2")
    assert values.display_repr({3 ** 40_000 + i for i in range(10)}) == "<set holding integers too large to show>"
    assert values.display_repr({3 ** 40_000}).startswith("{" + digits(3 ** 40_000)[:9000])  # capped at REPR_LIMIT
    shown = values.to_wire([3 ** 40_000 + i for i in range(10)])
    assert shown[0] == digits(3 ** 40_000) and shown[-1].startswith("<int of about")


def test_plain_lists_are_taken_as_they_are_and_others_item_by_item():
    plain = [1, "a", None, True, 2.5]
    assert values.decode(plain) is plain and values.to_wire(plain) == plain
    numbers, words = list(range(1000)), ["a", None, True]
    assert values.to_wire(numbers) is numbers and values.to_wire(words) is words
    assert values.to_wire([1.0, float("nan")]) == "[1.0, nan]"
    assert values.to_wire([1, 1 << 20_000])[1] == digits(1 << 20_000)  # past HEX_INT_BITS: decimal text
    assert values.to_wire((1, 2)) == [1, 2]
    assert values.has_opaque([[1, 2], [3, {"$": "opaque", "repr": "x"}]])
    assert not values.has_opaque([[1, 2], [3, {"$": "tuple", "v": [1]}]])
    matrix: list[Any] = [[[1, 2], [3]], [[4.5, -7]], []]
    rows: list[Any] = [["a", "b"], [None]]
    assert values.decode(matrix) is matrix and values.to_wire(matrix) is matrix and not values.has_opaque(matrix)
    assert values.to_wire(rows) is rows and values.to_wire([[1], ["a"]]) == [[1], ["a"]]
    assert values.decode([[1], [{"$": "tuple", "v": [2]}]]) == [[1], [(2,)]]
    assert values.decode([[1], 2]) == [[1], 2]  # lists beside scalars: item by item, the same value
    assert values.to_wire([[1], [float("inf")]]) == "[[1], [inf]]"  # no JSON form: its repr
    assert values.to_wire(((1, 2), [3])) == [[1, 2], [3]]
