"""Programs judged on stdin/stdout cases, in the forms the usual data sets give them.

A sample (or, with ``--problems``, the problem of its ``task_id``) holds its cases in one
of these forms, each value a JSON value or a JSON string of one:

* CodeContests: ``public_tests``, ``private_tests``, ``generated_tests``, each
  ``{"input": [...], "output": [...]}``;
* LiveCodeBench: ``public_test_cases``, ``private_test_cases``, each a list of
  ``{"input", "output", "testtype"}`` (its compressed private cases must be decoded first:
  they are pickles, which this command never loads);
* APPS: ``input_output``, ``{"inputs": [...], "outputs": [...]}``, or the same two lists as
  top-level ``inputs`` and ``outputs``.

Every test set present is used, in that order. Function-call cases (LiveCodeBench's
``testtype: functional``, APPS's ``fn_name``) are refused with a message: they are not
programs.

A checker (``--checker FILE``, a Python file defining ``check(input, output, expected)``
that returns True for an acceptable output) judges instead of a comparison. It runs in the
service's sandbox like any code, as a function case fed the case's input, the program's
output and the expected output, never in this process.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .jsonl import InputError

__all__ = ["CASE_FIELDS", "CaseError", "checker_cases", "read_checker", "stdio_cases"]

#: The fields that hold test sets, in the order their cases run.
TEST_SETS = ("public_tests", "private_tests", "generated_tests", "public_test_cases", "private_test_cases")
#: Every field a sample or problem may hold its cases in.
CASE_FIELDS = (*TEST_SETS, "input_output", "inputs")


class CaseError(ValueError):
    """A case field that cannot be read; its message says which and why."""


def stdio_cases(record: dict[str, Any]) -> list[dict[str, str]] | None:
    """The ``{"stdin", "stdout"}`` cases of a sample or problem, or ``None`` if it has none.

    Raises:
        CaseError: A case field is malformed or holds function-call cases.
    """
    present = [name for name in TEST_SETS if record.get(name) is not None]
    if present:
        return [case for name in present for case in _test_set(name, _decoded(name, record[name]))]
    if record.get("input_output") is not None:
        table = _decoded("input_output", record["input_output"])
        if not isinstance(table, dict):
            raise CaseError("input_output must be an object with inputs and outputs")
        return _columns("input_output", table)
    if record.get("inputs") is not None:
        return _columns("inputs/outputs", record)
    return None


def _decoded(name: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        raise CaseError(f"{name} is a string but not JSON (LiveCodeBench's compressed private cases must be "
                        "decoded first)") from None


def _test_set(name: str, value: Any) -> Iterator[dict[str, str]]:
    if isinstance(value, dict):
        yield from _columns(name, {"inputs": value.get("input"), "outputs": value.get("output")})
    elif isinstance(value, list):
        for index, case in enumerate(value):
            yield _row(name, index, case)
    else:
        raise CaseError(f"{name} must be {{input: [...], output: [...]}} or a list of {{input, output}}")


def _row(name: str, index: int, case: Any) -> dict[str, str]:
    if not isinstance(case, dict):
        raise CaseError(f"case {index} of {name} is not an object")
    if case.get("testtype", "stdin") != "stdin":
        raise CaseError(f"case {index} of {name} is a {case['testtype']} case; stdio judges stdin/stdout cases only")
    stdin, stdout = case.get("input", case.get("stdin")), case.get("output", case.get("stdout"))
    if not isinstance(stdin, str) or not isinstance(stdout, str):
        raise CaseError(f"case {index} of {name} needs input and output strings")
    return {"stdin": stdin, "stdout": stdout}


def _columns(name: str, table: dict[str, Any]) -> list[dict[str, str]]:
    if table.get("fn_name") is not None:
        raise CaseError(f"{name} holds function-call cases (fn_name); stdio judges stdin/stdout cases only")
    inputs, outputs = table.get("inputs"), table.get("outputs")
    if not isinstance(inputs, list) or not isinstance(outputs, list) or len(inputs) != len(outputs):
        raise CaseError(f"{name} needs inputs and outputs, two lists of the same length")
    if not all(isinstance(text, str) for text in [*inputs, *outputs]):
        raise CaseError(f"{name}: every input and output must be a string")
    return [{"stdin": stdin, "stdout": stdout} for stdin, stdout in zip(inputs, outputs, strict=True)]


def read_checker(path: Path) -> str:
    """The source of a checker file, once it is known to compile and to define ``check``.

    Raises:
        InputError: The file cannot be read, does not compile, or binds no ``check``.
    """
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the checker ({exc})") from None
    try:
        tree = ast.parse(source, filename=str(path))
    except SyntaxError as exc:
        raise InputError(f"{path}, line {exc.lineno}: the checker does not compile ({exc.msg})") from None
    if "check" not in _top_level_names(tree):
        raise InputError(f"{path}: the checker must define check(input, output, expected) at its top level")
    return source


def _top_level_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(target.id for target in targets if isinstance(target, ast.Name))
    return names


def checker_cases(cases: list[tuple[str, str, str]]) -> list[dict[str, str]]:
    """The function cases that ask the checker about ``(input, output, expected)`` triples:
    each calls ``check`` with the three strings as literals and expects ``True``."""
    return [{"input": f"{stdin!r}, {got!r}, {expected!r}", "output": "True"} for stdin, got, expected in cases]
