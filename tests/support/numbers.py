"""Exact decimal text of integers of any size, for expectations about huge answers."""

from __future__ import annotations

import sys


def digits(n: int) -> str:
    """str(n) past Python's int-to-str limit (4,300 digits by default)."""
    previous = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)
    try:
        return str(n)
    finally:
        sys.set_int_max_str_digits(previous)
