"""Which cases the `tests` of an evaluation hold (docs/api.md §4, test-code mode).

Planned from the source alone, without running it, on both sides: the web tier rejects
tests with no test in them (422), the supervisor sends the plan with the job, and the
sandbox runs one planned test per case process. The forms:

- a top-level `assert` (MBPP), or a top-level statement that holds one (a loop of
  asserts) or calls a function of the tests (`check(add)`): a case each, run after the
  top-level statements before it that are not cases themselves;
- `def check(candidate)` that the tests never call (HumanEval): one case, called with
  the entry point;
- a `unittest.TestCase` subclass: a case per `test*` method, inherited ones included,
  in unittest's (sorted) order.
"""

from __future__ import annotations

import ast
import functools
import re
from dataclasses import dataclass
from typing import Literal

NAME_LIMIT = 200  # characters of a test's source shown as its case's `input`


class InvalidTests(ValueError):
    """The tests cannot be planned: the message says why and what to send instead."""


@dataclass(frozen=True)
class PlannedTest:
    """One test: its form, what it is called in the results, and where it is."""

    kind: Literal["statement", "check", "unittest"]
    name: str
    statement: int = -1       # "statement": the index of its top-level statement
    test_class: str = ""      # "unittest"
    method: str = ""          # "unittest"


def plan(tests: str, entry_point: str | None) -> list[PlannedTest]:
    """The tests in `tests`, in the order they run. Tests of up to `CACHED_CHARS` are
    planned once for the last `CACHED_PLANS` (tests, entry point) pairs: an evaluation
    pipeline sends the same problem's tests with each of its samples, and the request is
    planned again wherever it is validated (the web tier, the supervisor).

    Raises:
        InvalidTests: they do not parse, hold no test, or call for an entry point not given.
    """
    if len(tests) <= CACHED_CHARS:
        return list(_cached_plan(tests, entry_point))
    return _plan(tests, entry_point)


CACHED_CHARS = 1 << 16
CACHED_PLANS = 64


@functools.lru_cache(maxsize=CACHED_PLANS)
def _cached_plan(tests: str, entry_point: str | None) -> tuple[PlannedTest, ...]:
    return tuple(_plan(tests, entry_point))  # an error is raised, never kept


def _plan(tests: str, entry_point: str | None) -> list[PlannedTest]:
    try:
        module = ast.parse(tests, filename="<tests>")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        line = getattr(exc, "lineno", None)
        where = f" (line {line})" if line else ""
        raise InvalidTests(f"tests do not compile: {type(exc).__name__}: {getattr(exc, 'msg', exc)}{where}") from None
    functions = {node.name for node in module.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)}
    source = Source(tests)
    planned = [PlannedTest("statement", source.name(node), statement=index)
               for index, node in enumerate(module.body) if is_case_statement(node, functions)]
    if "check" in functions and not _calls(module, "check"):
        if not entry_point:
            raise InvalidTests("tests define check(candidate): give entry_point, the callable it is called with")
        planned.append(PlannedTest("check", f"check({entry_point.strip()})"))
    planned += _unittest_cases(module)
    if not planned:
        raise InvalidTests("tests hold no test: give top-level asserts, a check(candidate) function, "
                           "or unittest.TestCase classes with test* methods")
    return planned


def is_case_statement(node: ast.stmt, functions: set[str]) -> bool:
    """A top-level statement that is a test: an assert, a statement holding one, or a
    call of one of the tests' own functions. Definitions are never cases."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Import | ast.ImportFrom):
        return False
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) and isinstance(node.value.func, ast.Name):
        if node.value.func.id in functions:
            return True
    return any(isinstance(inner, ast.Assert) for inner in _walk_outside_definitions(node))


def _walk_outside_definitions(node: ast.AST) -> list[ast.AST]:
    found: list[ast.AST] = []
    stack = [node]
    while stack:
        item = stack.pop()
        found.append(item)
        for child in ast.iter_child_nodes(item):
            if not isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
                stack.append(child)
    return found


def _calls(module: ast.Module, name: str) -> bool:
    """Whether a top-level statement calls `name` (the tests run it themselves)."""
    for node in module.body:
        for inner in _walk_outside_definitions(node):
            if isinstance(inner, ast.Call) and isinstance(inner.func, ast.Name) and inner.func.id == name:
                return True
    return False


_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")  # a line as the parser counts them


class Source:
    """The tests' text by line, split once: `ast.get_source_segment` splits the whole text
    again at each call, which made planning (and the sandbox's assert rewriting, which
    names every assert by its source) quadratic in the number of asserts."""

    def __init__(self, text: str) -> None:
        self.lines: list[str] = _LINE.findall(text)
        self._encoded: dict[int, bytes] = {}

    def _line(self, index: int) -> bytes:
        """A line in UTF-8, where the parser's column offsets count."""
        encoded = self._encoded.get(index)
        if encoded is None:
            encoded = self._encoded[index] = self.lines[index].encode()
        return encoded

    def segment(self, node: ast.stmt | ast.expr) -> str | None:
        """The source of `node`, as `ast.get_source_segment` gives it."""
        if node.end_lineno is None or node.end_col_offset is None:
            return None
        first, last = node.lineno - 1, node.end_lineno - 1
        if first == last:
            return self._line(first)[node.col_offset:node.end_col_offset].decode()
        return "".join([self._line(first)[node.col_offset:].decode(), *self.lines[first + 1:last],
                        self._line(last)[:node.end_col_offset].decode()])

    def name(self, node: ast.stmt) -> str:
        """A case's `input`: its source on one line, shortened to NAME_LIMIT."""
        text = self.segment(node) or ast.unparse(node)
        first = " ".join(text.split())
        return first if len(first) <= NAME_LIMIT else first[: NAME_LIMIT - 3] + "..."


def _unittest_cases(module: ast.Module) -> list[PlannedTest]:
    """Classes deriving (within the tests or directly) from something named *TestCase."""
    classes = {node.name: node for node in module.body if isinstance(node, ast.ClassDef)}

    def base_names(node: ast.ClassDef) -> list[str]:
        return [base.attr if isinstance(base, ast.Attribute) else base.id
                for base in node.bases if isinstance(base, ast.Attribute | ast.Name)]

    def is_test_case(name: str, seen: frozenset[str] = frozenset()) -> bool:
        node = classes.get(name)
        if node is None or name in seen:
            return False
        return any(base.endswith("TestCase") or is_test_case(base, seen | {name}) for base in base_names(node))

    def methods(name: str, seen: frozenset[str] = frozenset()) -> set[str]:
        node = classes.get(name)
        if node is None or name in seen:
            return set()
        own = {item.name for item in node.body
               if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and item.name.startswith("test")}
        for base in base_names(node):
            own |= methods(base, seen | {name})
        return own

    planned = []
    for name in classes:
        if is_test_case(name) and not name.startswith("_"):
            planned += [PlannedTest("unittest", f"{name}.{method}", test_class=name, method=method)
                        for method in sorted(methods(name))]
    return planned
