"""What a wrong answer is, and the checks that find one: pure, without the HTTP client.

Kept apart from ``bench.api`` so that what a forked case checks (``bench.problems``, used
by the bare-fork baseline) imports in any ``python3``, the sandbox's included, whether or
not it has ``requests``.
"""

from __future__ import annotations

from typing import Any


class WrongAnswer(Exception):
    """The target answered with a success status, but not what was expected."""


def expect_equal(what: str, got: Any, expected: Any) -> None:
    """Raises :class:`WrongAnswer` naming ``what`` unless ``got == expected``."""
    if got != expected:
        raise WrongAnswer(f"{what}: expected {expected!r}, got {got!r}"[:300])


def field(reply: Any, name: str) -> Any:
    """Returns ``reply[name]``, or raises :class:`WrongAnswer` if the reply lacks it."""
    if not isinstance(reply, dict) or name not in reply:
        raise WrongAnswer(f"reply has no {name!r}: {str(reply)[:200]}")
    return reply[name]
