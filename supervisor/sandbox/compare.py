"""Runs in: the init.

How a program case's output is compared with the expected output (docs/api.md §4).

Pure functions of two strings, run in the sandbox's init, which user code cannot reach:
a program's only say in its verdict is what it wrote to stdout. The init decodes that
output with `surrogateescape`, so a byte that is not UTF-8 becomes a lone surrogate,
which no expected output can hold (requests refuse them): invalid output never matches.

Modes:
    exact:  the same text, byte for byte.
    lines:  the same lines, ignoring whitespace at the end of each line (spaces, tabs, a
            `\\r` of CRLF) and empty lines at the end (Judge0's default).
    tokens: the same tokens, separated by ASCII whitespace (space, tab, newline, CR, form
            feed, vertical tab: what C's `isspace` and `scanf` skip and what DMOJ's
            standard checker splits on; testlib takes the first four). A no-break space
            or another Unicode space is part of a token, as to those checkers:
            `str.split()` would split on it.
    float:  the same tokens, where two tokens that are both decimal numbers (of ASCII
            digits) are equal within `rel_tol` or `abs_tol` (`math.isclose`). Anything
            else, `nan`, `inf` and other scripts' digits included, must be the same text.
"""

from __future__ import annotations

import math
import re

MODES = ("exact", "lines", "tokens", "float")
LINE_END_SPACE = " \t\r\f\v"
# ASCII digits only: `\d` alone takes any Unicode digit (fullwidth, Arabic-Indic), and so
# does float(), so `１２` would pass for 12. The documented grammar is ASCII. Possessive
# quantifiers: each part takes what it can and never gives it back, so a long run of
# digits that is no number (`111...1x`) is refused in linear time, not quadratic (the
# tokens are user input, read by the init outside any deadline).
NUMBER = re.compile(rb"[+-]?+(?:\d++(?:\.\d*+)?+|\.\d++)(?:[eE][+-]?+\d++)?+")  # bytes: ASCII


def same_output(got: str, expected: str, mode: str, rel_tol: float = 0.0, abs_tol: float = 0.0) -> bool:
    """Whether `got` passes as `expected` under `mode`.

    Raises:
        ValueError: an unknown mode.
    """
    if mode == "exact":
        return got == expected
    if mode == "lines":
        return _lines(got) == _lines(expected)
    if mode == "tokens":
        return _tokens(got) == _tokens(expected)
    if mode == "float":
        ours, theirs = _tokens(got), _tokens(expected)
        return len(ours) == len(theirs) and all(
            _same_token(a, b, rel_tol, abs_tol) for a, b in zip(ours, theirs, strict=True))
    raise ValueError(f"unknown compare mode {mode!r}")


def _lines(text: str) -> list[str]:
    lines = [line.rstrip(LINE_END_SPACE) for line in text.split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _tokens(text: str) -> list[bytes]:
    """The tokens as bytes: `bytes.split()` splits on exactly the ASCII whitespace above,
    about four times faster than a regular expression on a large output. The output's
    undecodable bytes come back as they were, and match no token of valid UTF-8."""
    return text.encode("utf-8", "surrogateescape").split()


def _same_token(got: bytes, expected: bytes, rel_tol: float, abs_tol: float) -> bool:
    if got == expected:
        return True
    if not (NUMBER.fullmatch(got) and NUMBER.fullmatch(expected)):
        return False
    a, b = float(got), float(expected)
    if math.isinf(a) or math.isinf(b):
        return False  # past float range: only the same text is the same number
    return math.isclose(a, b, rel_tol=rel_tol, abs_tol=abs_tol)
