"""The comparison of a program case's output (supervisor/sandbox/compare.py), without a
sandbox; the same edges run through the real service in tests/api/test_evaluate_programs.py."""

from __future__ import annotations

import pytest

from supervisor.sandbox.compare import same_output


@pytest.mark.parametrize(("mode", "got", "expected", "same"), [
    ("exact", "a\n", "a\n", True),
    ("exact", "a\n", "a", False),
    ("lines", "a \t\r\n\n\n", "a", True),
    ("lines", "a\n\nb", "a\nb", False),
    ("lines", "\n", "", True),
    ("lines", "a\x0b", "a", True),            # vertical tab and form feed are end-of-line space too
    ("lines", "a\u00a0", "a", False),         # a no-break space is no trailing whitespace
    ("tokens", " a\n b ", "a b", True),
    ("tokens", "", "", True),
    ("tokens", "a", "", False),
    ("tokens", "a\x0b\x0cb\r", "a b", True),      # every ASCII space splits, vertical tab and form feed too
    ("tokens", "1\u00a02", "1 2", False),         # a no-break space is part of the token
    ("tokens", "1\u20032\u3000", "1 2", False),   # so are an em space and an ideographic space
    ("tokens", "1\u00a02", "1\u00a02", True),     # the same text is still the same token
    ("tokens", "a\x1cb", "a b", False),           # an ASCII separator control is no whitespace
    ("float", "1.0\u00a02", "1 2", False),        # in float mode as well
    ("float", "1.0\x0c2", "1 2", True),
    ("float", "1.0000001", "1", True),
    ("float", "-0", "+0.0", True),
    ("float", ".5", "0.5", True),
    ("float", "5.", "5", True),
    ("float", "1e5", "100000", True),
    ("float", "1.1", "1", False),
    ("float", "1_000", "1000", False),         # Python's float() would take it: not a decimal number
    ("float", "NaN", "nan", False),            # as text: a different text
    ("float", "inf", "inf", True),
])
def test_modes(mode: str, got: str, expected: str, same: bool) -> None:
    assert same_output(got, expected, mode, 1e-6, 1e-6) is same


def test_tolerances_are_the_callers() -> None:
    assert same_output("1.05", "1", "float", rel_tol=0.1, abs_tol=0)
    assert not same_output("1.05", "1", "float", rel_tol=0.01, abs_tol=0)
    assert same_output("0.001", "0", "float", rel_tol=0, abs_tol=0.01)


def test_output_that_is_not_utf8_never_matches() -> None:
    got = b"\xff".decode("utf-8", "surrogateescape")
    for mode in ("exact", "tokens", "float"):
        assert not same_output(got, "\ufffd", mode)
        assert not same_output(f"1 {got}", "1 \ufffd", mode)


def test_an_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError):
        same_output("", "", "fuzzy")
