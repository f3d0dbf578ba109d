"""Runs in: a unit (encoding what user code returned) and the init (decoding and comparing).

Python values across the unit -> init boundary, and their form for clients.

A case process runs user code, so nothing it sends can be trusted but as a claim about
what the solution returned. It sends that value in a tagged JSON encoding that keeps the
exact builtin types apart (a tuple is not a list, a set is not a dict; `Fraction` and
`Decimal` too), and the sandbox's init, which user code cannot reach, rebuilds it and
compares it with the expected value it parsed from the request itself. A subclass of a
builtin type crosses as its base value and a numpy-like value as its `tolist()`, so
their `__eq__` decides nothing. Anything else (an object of the solution's own class) is
opaque: only its repr crosses, and it is never equal to a literal expected output.

Integers past Python's int-to-str limit cross as hexadecimal (linear both ways, so a huge
answer costs no quadratic conversion in the init), and appear to clients as decimal
strings up to `DISPLAY_INT_BITS`, beyond that as a short description.

The init works on what user code sends and on the request's expected outputs outside
any case's deadline, so each of its steps here costs at most a bounded time per byte:
nothing quadratic in a value's size (a Fraction is rebuilt as sent, never reduced by a
gcd; a decimal literal's integers have at most `LITERAL_INT_DIGITS` digits), and a list
of plain values (numbers, strings) is taken as JSON gave it, without a pass in Python
over its items. A limit hit is said in the case's result (`LiteralTooLarge`).
"""

from __future__ import annotations

import ast
import base64
import decimal
import fractions
import itertools
import json
import math
import re
import sys
from collections.abc import Callable
from typing import Any

MAX_DEPTH = 100
HEX_INT_BITS = 12_000          # below ~3,600 decimal digits: a plain JSON number
DISPLAY_INT_BITS = 70_000      # up to ~21,000 decimal digits shown to clients in full
# Decimal digits written out for clients in one value, all its integers together: int ->
# str is quadratic in each, so a list of thousands of 20,000-digit integers would
# otherwise cost the init seconds; past it an integer is described.
DISPLAY_DIGITS = 100_000
REPR_LIMIT = 10_000
# An expected output the init parses as Python (`ast`, about a microsecond a character,
# and a hundred bytes of memory) at most this long; a longer one is parsed as JSON only
# (some fifty times faster), which every list, string-keyed dict, double-quoted string and
# number is.
LITERAL_AST_MAX_CHARS = 1 << 20
# Decimal digits of an integer in an expected output: str -> int is quadratic, so
# 10,000 digits cost the init half a millisecond (a factorial(2000) has 5,736); a
# larger integer is written in hexadecimal (0x...), which converts in linear time.
LITERAL_INT_DIGITS = 10_000
_PLAIN = frozenset({str, bool, int, float, type(None)})  # scalars that are their own JSON


class Opaque:
    """A value the init cannot rebuild: only its repr is known."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


class _Unencodable(Exception):
    pass


def safe_repr(value: Any) -> str:
    """repr that never raises and never returns more than REPR_LIMIT characters."""
    try:
        text = repr(value)
    except BaseException as exc:  # noqa: BLE001 - a user __repr__ may raise anything
        text = f"<unrepresentable {type(value).__name__}: {type(exc).__name__}>"
    if len(text) > REPR_LIMIT:
        text = text[:REPR_LIMIT] + "...<truncated>"
    return text


# --- unit side ---------------------------------------------------------------------

Refer = Callable[[Any], Any]


def encode(value: Any, refer: Refer | None = None) -> Any:
    """The tagged JSON form of `value`; anything not of an exact builtin type is opaque.

    With `refer`, a part that has no builtin value is `refer(part)` instead (a reference
    the other side resolves: see `remote`), and `refer` may raise TypeError to refuse it.
    """
    if refer is not None:
        try:
            return _encode(value, 0, refer)
        except RecursionError:
            raise TypeError("the value is nested too deeply to cross") from None
    try:
        return _encode(value, 0, None)
    except (_Unencodable, RecursionError):
        return {"$": "opaque", "repr": safe_repr(value)}


def has_opaque(encoded: Any) -> bool:
    """Whether an encoded value holds a part the init cannot rebuild."""
    stack = [encoded]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            if _plain_tree(item) is None:
                stack.extend(part for part in item if isinstance(part, list | dict))
        elif isinstance(item, dict):
            if item.get("$") == "opaque":
                return True
            if isinstance(item.get("v"), list):
                stack.append(item["v"])
    return False


def _encode(value: Any, depth: int, refer: Refer | None) -> Any:
    if depth > MAX_DEPTH:
        if refer is not None:
            return refer(value)
        raise _Unencodable
    kind = type(value)
    if value is None or kind is bool or kind is str:
        return value
    if kind is int:
        if value.bit_length() > HEX_INT_BITS:
            return {"$": "int", "hex": format(value, "x")}
        return value
    if kind is float:
        return value if math.isfinite(value) else {"$": "float", "v": repr(value)}
    if kind is list:
        return [_encode(item, depth + 1, refer) for item in value]
    if kind is tuple or kind is set or kind is frozenset:
        return {"$": kind.__name__, "v": [_encode(item, depth + 1, refer) for item in value]}
    if kind is dict:
        return {"$": "dict", "v": [[_encode(k, depth + 1, refer), _encode(v, depth + 1, refer)]
                                   for k, v in value.items()]}
    if kind is bytes:
        return {"$": "bytes", "v": base64.b64encode(value).decode()}
    if kind is complex:
        return {"$": "complex", "v": [_encode(value.real, depth + 1, refer), _encode(value.imag, depth + 1, refer)]}
    if kind is fractions.Fraction:
        return {"$": "fraction", "v": [_encode(value.numerator, depth + 1, refer),
                                       _encode(value.denominator, depth + 1, refer)]}
    if kind is decimal.Decimal:
        return {"$": "decimal", "v": str(value)}
    try:
        builtin = _as_builtin(value)
    except _Unencodable:
        if refer is None:
            raise
        return refer(value)
    return _encode(builtin, depth + 1, refer)


_BUILTIN_BASES: tuple[type[Any], ...] = (bool, int, float, str, bytes, complex, list, tuple, set, frozenset, dict)


def _as_builtin(value: Any) -> Any:
    """The builtin value behind a value of another type, where there plainly is one: a
    subclass of a builtin type is its base value (its own `__eq__` is not trusted), a
    numpy-like array or scalar its `tolist()`. What comes back is only ever a claim about
    the returned value, like the value itself.

    Raises:
        _Unencodable: no such value (an object of the solution's own class).
    """
    for base in _BUILTIN_BASES:
        if isinstance(value, base):
            return base(value)
    tolist = getattr(type(value), "tolist", None)
    if callable(tolist):
        converted = tolist(value)
        if type(converted) is not type(value):
            return converted
    raise _Unencodable


# --- init side -----------------------------------------------------------------------------

Resolve = Callable[[dict[str, Any]], Any]


def decode(data: Any, resolve: Resolve | None = None) -> Any:
    """Rebuild a value sent by `encode`; Opaque for an opaque value. A reference (`refer`
    of `encode`) is `resolve(reference)`; without `resolve` it is malformed.

    Raises:
        ValueError: `data` is not a well-formed encoding (a forged or garbled report).
    """
    try:
        return _decode(data, 0, resolve)
    except (KeyError, TypeError, IndexError, AttributeError, RecursionError, ArithmeticError) as exc:
        # ArithmeticError: Fraction(1, 0), Decimal("x") (InvalidOperation), OverflowError
        raise ValueError(f"malformed value: {type(exc).__name__}") from None


_SCALARS = (str, bool, int, float, type(None))


def _plain_tree(items: list[Any] | tuple[Any, ...]) -> list[Any] | None:
    """The scalars of a list that holds only plain scalars (numbers, strings, booleans,
    None) or only lists of the same, to any depth: such a JSON list is its own value,
    whatever its length. Each level is looked at with C-speed calls (the types of its
    items, then its lists chained into the next level), never item by item in Python.
    None for anything else: a tagged value or a dict, or lists beside scalars."""
    level: Any = items
    for _ in range(MAX_DEPTH):
        kinds = set(map(type, level))
        if kinds <= _PLAIN:
            return level if isinstance(level, list) else list(level)
        if kinds != {list}:
            return None
        level = list(itertools.chain.from_iterable(level))
    return None


def _decode(data: Any, depth: int, resolve: Resolve | None) -> Any:
    if depth > MAX_DEPTH + 1:
        raise ValueError("malformed value: too deep")
    if isinstance(data, _SCALARS):
        return data
    if isinstance(data, list):
        if _plain_tree(data) is not None:
            return data
        return [_decode(item, depth + 1, resolve) for item in data]
    if not isinstance(data, dict):
        raise ValueError("malformed value")
    tag = data["$"]
    if tag == "opaque":
        return Opaque(str(data["repr"]))
    if tag == "int":
        return int(data["hex"], 16)
    if tag == "float":
        return float(data["v"])
    if tag == "bytes":
        return base64.b64decode(data["v"], validate=True)
    if tag == "decimal":
        return decimal.Decimal(str(data["v"]))
    if tag == "ref" and resolve is not None:
        return resolve(data)
    items = [_decode(item, depth + 1, resolve) for item in data["v"]]
    if tag == "tuple":
        return tuple(items)
    if tag == "set":
        return set(items)
    if tag == "frozenset":
        return frozenset(items)
    if tag == "dict":
        return {k: v for k, v in items}
    if tag == "complex":
        return complex(*items)
    if tag == "fraction":
        return _fraction(*items)
    raise ValueError(f"malformed value: unknown tag {tag!r}")


def _fraction(numerator: Any, denominator: Any) -> fractions.Fraction:
    """The Fraction the unit returned, its numerator and denominator as sent, not reduced
    here: a gcd of two huge integers costs quadratic time. A Fraction is in lowest terms
    already (one built unreduced, `_normalize=False`, is what the solution returned), and
    an unreduced one is never equal where its reduced value is not: it can only fail."""
    if type(numerator) is not int or type(denominator) is not int:
        raise TypeError("a fraction of integers")
    if denominator == 0:
        raise ZeroDivisionError("a fraction with denominator 0")
    value: Any = object.__new__(fractions.Fraction)
    value._numerator, value._denominator = numerator, denominator  # noqa: SLF001 - its slots, as it sets them
    return value


class NotLiteral(Exception):
    """The expected output is an expression: only the unit can evaluate it."""


class LiteralTooLarge(Exception):
    """The expected output is a literal past what the init parses; the message says which
    limit, and how to write it instead."""


def parse_literal(text: str) -> Any:
    """The request's expected output, parsed here without running anything: as JSON when
    it is JSON that means the same to Python (`_escapes_as_in_python`,
    `_json_names_outside_strings`), else as a Python literal.

    Raises:
        NotLiteral: not a Python literal.
        LiteralTooLarge: a literal past `LITERAL_AST_MAX_CHARS` that is not JSON, or with
            an integer of more than `LITERAL_INT_DIGITS` decimal digits.
    """
    text = text.strip()
    if not text:
        return None
    previous = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(LITERAL_INT_DIGITS)  # refused before it is converted
    try:
        return _parse_literal(text)
    finally:
        sys.set_int_max_str_digits(previous)


_DIGITS_EXCEEDED = "Exceeds the limit"  # how Python refuses an integer past the int-to-str limit
_TOO_MANY_DIGITS = (f"LiteralTooLarge: the expected output holds an integer of more than {LITERAL_INT_DIGITS} "
                    "decimal digits; write it in hexadecimal (0x...), which has no such limit")


def _parse_literal(text: str) -> Any:
    if _escapes_as_in_python(text):
        try:
            value = json.loads(text, parse_constant=_not_python)
        except RecursionError:
            pass  # nested deeper than JSON's parser goes: Python's decides
        except ValueError as exc:  # JSONDecodeError among them: not JSON
            if _DIGITS_EXCEEDED in str(exc):
                raise LiteralTooLarge(_TOO_MANY_DIGITS) from None
        else:
            if not _json_names_outside_strings(text):
                return value
    if len(text) > LITERAL_AST_MAX_CHARS:
        raise LiteralTooLarge(
            f"LiteralTooLarge: the expected output is over {LITERAL_AST_MAX_CHARS} characters and not JSON; "
            "write a long literal as JSON (lists, dicts with string keys, double-quoted strings, numbers), "
            "or check a long expression in the solution's own terms")
    try:
        return ast.literal_eval(text)
    except SyntaxError as exc:
        if _DIGITS_EXCEEDED in str(exc):
            raise LiteralTooLarge(_TOO_MANY_DIGITS) from None
        raise NotLiteral from exc
    except (ValueError, TypeError, MemoryError, RecursionError) as exc:
        raise NotLiteral from exc


# What JSON reads otherwise than Python: `true`, `false` and `null` (names to Python), an
# escaped `/`, and a surrogate pair escaped as two `\u` (one character to JSON, two to
# Python); `NaN` and `Infinity` are refused by `_not_python`.
_JSON_NAMES = ("true", "false", "null")
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _escapes_as_in_python(text: str) -> bool:
    """Whether every escape JSON could read in `text` means the same to Python (a C-speed
    look for the two that do not)."""
    return "\\" not in text or ("\\/" not in text and not _SURROGATE_ESCAPE.search(text))


def _json_names_outside_strings(text: str) -> bool:
    """Whether JSON text (it parsed) spells `true`, `false` or `null` outside its strings:
    looked for in the strings' absence only when one is in the text at all. Its strings
    are well formed, so the regular expression takes each once."""
    if not any(name in text for name in _JSON_NAMES):
        return False
    outside = _JSON_STRING.sub("", text)
    return any(name in outside for name in _JSON_NAMES)


def _not_python(name: str) -> Any:
    raise ValueError(f"{name} is not a Python literal")


def same(got: Any, expected: Any, tolerance: float | None = None) -> bool:
    """`got == expected` between rebuilt builtin values: runs no user code. With a
    `tolerance`, see `close`."""
    try:
        return close(got, expected, tolerance, 0) if tolerance is not None else bool(got == expected)
    except (RecursionError, ArithmeticError):  # ArithmeticError: a Decimal sNaN refuses comparison
        return False


def close(got: Any, expected: Any, tolerance: float, depth: int = 0) -> bool:
    """Equality with floats compared by `math.isclose` (`tolerance` as both the relative
    and the absolute tolerance), through lists, tuples and dict values; everything else
    by `==`. A float and an int compare as numbers; a bool is never a number here, and
    NaN equals nothing, as with `==`. In the unit (an expected expression), `==`
    is that of the values user code returned."""
    if depth > MAX_DEPTH:
        raise RecursionError("too deep to compare")
    if _is_number(got) and _is_number(expected) and (type(got) is float or type(expected) is float):
        try:
            return math.isclose(got, expected, rel_tol=tolerance, abs_tol=tolerance)
        except OverflowError:  # an int too large for a float
            return False
    if type(got) in (list, tuple) and type(expected) is type(got):
        return len(got) == len(expected) and all(
            close(g, e, tolerance, depth + 1) for g, e in zip(got, expected, strict=True))
    if type(got) is dict and type(expected) is dict:
        return got.keys() == expected.keys() and all(
            close(got[k], expected[k], tolerance, depth + 1) for k in expected)
    return bool(got == expected)


def _is_number(value: Any) -> bool:
    return type(value) in (int, float)


# --- for clients ---------------------------------------------------------------------------

def to_wire(value: Any) -> Any:
    """The JSON value a client sees: itself where JSON has it (tuples as lists), else repr."""
    try:
        return _jsonable(value, 0, _Digits())
    except (_Unencodable, RecursionError):
        return display_repr(value)


class _Digits:
    """What is left of DISPLAY_DIGITS while one value is made ready for a client."""

    __slots__ = ("left",)

    def __init__(self) -> None:
        self.left = DISPLAY_DIGITS


def _jsonable(value: Any, depth: int, digits: _Digits) -> Any:
    if depth > MAX_DEPTH:
        raise _Unencodable
    kind = type(value)
    if value is None or kind is bool or kind is str:
        return value
    if kind is int:
        if value.bit_length() > HEX_INT_BITS:
            return _big_int_text(value, digits)
        return value
    if kind is float and math.isfinite(value):
        return value
    if kind is list or kind is tuple:
        scalars = _plain_tree(value)
        if scalars is not None and _shown_as_they_are(scalars):
            return value if kind is list else list(value)
        return [_jsonable(item, depth + 1, digits) for item in value]
    if kind is dict and all(type(key) is str for key in value):
        return {key: _jsonable(item, depth + 1, digits) for key, item in value.items()}
    raise _Unencodable


def _shown_as_they_are(scalars: list[Any]) -> bool:
    """Whether every one of these plain scalars is seen by a client as it is (no integer
    past HEX_INT_BITS, no infinite or NaN float), found without a pass in Python."""
    kinds = set(map(type, scalars))
    if not kinds & {int, float}:
        return True
    if kinds - {int, float, bool}:
        return False  # numbers beside text: item by item
    try:
        if float in kinds:  # finite, and no integer past float range (so none past HEX_INT_BITS)
            return math.isfinite(math.fsum(scalars))
        return max(max(scalars), -min(scalars)).bit_length() <= HEX_INT_BITS
    except (OverflowError, ValueError):
        return False


DISPLAY_ITEMS = 1 << 20


def to_display(value: Any) -> Any:
    """`to_wire`, but a value with over DISPLAY_ITEMS characters or items is shown as its
    (capped) repr: what only informs the client must not eat the request's result budget."""
    try:
        large = len(value) > DISPLAY_ITEMS
    except BaseException:  # noqa: BLE001 - a user __len__ may raise anything
        large = False
    return safe_repr(value) if large else to_wire(value)


def display_repr(value: Any) -> str:
    if isinstance(value, Opaque):
        return value.text
    if type(value) is int:
        return _big_int_text(value)
    largest, large = _int_bits(value)
    if largest > DISPLAY_INT_BITS or _decimal_digits(large) > DISPLAY_DIGITS:
        return f"<{type(value).__name__} holding integers too large to show>"
    previous = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)
    try:
        return safe_repr(value)
    finally:
        sys.set_int_max_str_digits(previous)


def _int_bits(value: Any, depth: int = 0) -> tuple[int, int]:
    """The largest bit length of the integers in `value` (those its repr writes in decimal,
    a Fraction's two among them), and the total of those past HEX_INT_BITS, whose
    conversion costs more than their length."""
    if type(value) is int:
        bits = value.bit_length()
        return bits, bits if bits > HEX_INT_BITS else 0
    if type(value) is fractions.Fraction:
        numerator, denominator = _int_bits(value.numerator), _int_bits(value.denominator)
        return max(numerator[0], denominator[0]), numerator[1] + denominator[1]
    if depth > MAX_DEPTH or not isinstance(value, (list, tuple, set, frozenset, dict)):
        return 0, 0
    largest = large = 0
    for item in value.items() if isinstance(value, dict) else value:
        for part in item if isinstance(value, dict) else (item,):
            part_largest, part_large = _int_bits(part, depth + 1)
            largest, large = max(largest, part_largest), large + part_large
    return largest, large


def _decimal_digits(bits: int) -> int:
    return int(bits * math.log10(2)) + 1


def _big_int_text(value: int, digits: _Digits | None = None) -> str:
    """Decimal digits of an integer past the int-to-str limit, or a description of it
    (past DISPLAY_INT_BITS, or past what `digits` has left for the value it is part of)."""
    count = _decimal_digits(value.bit_length())
    if value.bit_length() > DISPLAY_INT_BITS or (digits is not None and count > digits.left):
        return f"<int of about {count} decimal digits>"
    if digits is not None:
        digits.left -= count
    previous = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)
    try:
        return str(value)
    finally:
        sys.set_int_max_str_digits(previous)
