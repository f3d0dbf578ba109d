"""Runs in: a test-code case's tests' process.

One planned test (`protocol.testplan`) made ready to run: its code, with asserts that
explain themselves.

Pure Python with no I/O, unit-tested without a sandbox. An `assert` is rewritten, as
pytest's assertion rewriting does, so that a failing one reports its source and the
values it compared (`left`, `right`), and those values become the case's `got` and
`expected`.
"""

from __future__ import annotations

import ast
import builtins
import dis
import linecache
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from protocol import testplan
from supervisor.sandbox import values

TESTS_FILENAME = "<tests>"
TESTS_MODULE = "tests"
SHOWN_LIMIT = 1000  # characters of each compared value shown in an assertion's message

_OPERATORS: dict[type[ast.cmpop], tuple[str, Callable[[Any, Any], Any]]] = {
    ast.Eq: ("==", operator.eq), ast.NotEq: ("!=", operator.ne), ast.Lt: ("<", operator.lt),
    ast.LtE: ("<=", operator.le), ast.Gt: (">", operator.gt), ast.GtE: (">=", operator.ge),
    ast.Is: ("is", operator.is_), ast.IsNot: ("is not", operator.is_not),
    ast.In: ("in", lambda a, b: a in b), ast.NotIn: ("not in", lambda a, b: a not in b),
}
_BY_SYMBOL = dict(_OPERATORS.values())
_COMPARE = "__repl_compare__"
_TRUTH = "__repl_truth__"
_FAIL = "__repl_failed__"


@dataclass
class Explainer:
    """What the rewritten asserts of one test call: it keeps the values of the last
    assert evaluated, which is the failing one when an AssertionError leaves it."""

    sources: list[str]
    left: Any = None
    right: Any = None
    op: str = ""
    compared: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def compare(self, left: Any, right: Any, op: str) -> bool:
        self.left, self.right, self.op, self.compared = left, right, op, True
        return bool(_BY_SYMBOL[op](left, right))

    def truth(self, value: Any) -> bool:
        self.left, self.compared = value, False
        return bool(value)

    def failed(self, index: int, message: Any) -> str:
        lines = [f"assert {self.sources[index]}"]
        if message is not None:
            lines.insert(0, str(message))
        if self.compared:
            lines += [f"  left:  {_shown(self.left)}", f"  right: {_shown(self.right)}"]
        else:
            lines.append(f"  value: {_shown(self.left)}")
        return "\n".join(lines)

    def helpers(self) -> dict[str, Any]:
        return {_COMPARE: self.compare, _TRUTH: self.truth, _FAIL: self.failed}


def _shown(value: Any) -> str:
    text = values.display_repr(value)  # an integer past the int-to-str limit too
    return text if len(text) <= SHOWN_LIMIT else text[:SHOWN_LIMIT] + "..."


class _AssertRewriter(ast.NodeTransformer):
    """`assert a == b, msg` becomes `if not compare(a, b, "=="): raise AssertionError(failed(i, msg))`."""

    def __init__(self, source: str) -> None:
        self.source = testplan.Source(source)
        self.sources: list[str] = []

    def visit_Assert(self, node: ast.Assert) -> ast.stmt:  # noqa: N802 - the ast visitor's name
        index = len(self.sources)
        text = self.source.segment(node.test) or ast.unparse(node.test)
        self.sources.append(" ".join(text.split()))
        test = node.test
        if isinstance(test, ast.Compare) and len(test.ops) == 1 and type(test.ops[0]) in _OPERATORS:
            symbol = _OPERATORS[type(test.ops[0])][0]
            check: ast.expr = ast.Call(ast.Name(_COMPARE, ast.Load()),
                                       [test.left, test.comparators[0], ast.Constant(symbol)], [])
        else:
            check = ast.Call(ast.Name(_TRUTH, ast.Load()), [test], [])
        message = node.msg if node.msg is not None else ast.Constant(None)
        failure = ast.Raise(ast.Call(ast.Name("AssertionError", ast.Load()), [
            ast.Call(ast.Name(_FAIL, ast.Load()), [ast.Constant(index), message], [])], []), None)
        replacement = ast.If(ast.UnaryOp(ast.Not(), check), [failure], [])
        return ast.copy_location(replacement, node)  # the new nodes inside: `prepare` locates them


@dataclass
class PreparedTest:
    """A test's code object and what its rewritten asserts need at run time."""

    code: Any
    explainer: Explainer
    global_names: list[str]

    def loaded_globals(self) -> frozenset[str]:
        """Of `global_names`, the ones the code reads as globals (not attributes). Only a
        test with no entry point needs them, and reading the bytecode is the dearest part
        of preparing a test, so it is done on demand."""
        return frozenset(_loaded_globals(self.code) & set(self.global_names))


def prepare(tests: str, test: testplan.PlannedTest) -> PreparedTest:
    """The module a case runs: every top-level statement that is not a test, and, for a
    statement test, the statements before it that are not tests and then the test itself.

    Raises:
        SyntaxError: the tests do not compile (the plan was made from other tests).
    """
    module = ast.parse(tests, filename=TESTS_FILENAME)
    functions = {node.name for node in module.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)}
    body = []
    for index, node in enumerate(module.body):
        if test.kind == "statement" and index > test.statement:
            break
        if index == test.statement or not testplan.is_case_statement(node, functions):
            body.append(node)
    module.body = body
    rewriter = _AssertRewriter(tests)
    module = ast.fix_missing_locations(rewriter.visit(module))  # one walk, not one per assert
    linecache.cache[TESTS_FILENAME] = (len(tests), None, tests.splitlines(True), TESTS_FILENAME)
    code = compile(module, TESTS_FILENAME, "exec", dont_inherit=True)
    needed = _names(code) - _bound_at_top_level(module)
    return PreparedTest(code=code, explainer=Explainer(rewriter.sources), global_names=sorted(needed))


def _bound_at_top_level(module: ast.Module) -> set[str]:
    """Names the tests bind themselves at their top level (defined, imported, assigned):
    never asked of the solution, so nothing of it is even looked at for them."""
    bound: set[str] = set()
    for node in module.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(node.name)
            continue
        for inner in ast.walk(node):
            if isinstance(inner, ast.Name) and isinstance(inner.ctx, ast.Store):
                bound.add(inner.id)
            elif isinstance(inner, ast.Import | ast.ImportFrom):
                bound |= {(alias.asname or alias.name).split(".")[0] for alias in inner.names}
    return bound


def _names(code: Any) -> set[str]:
    """Every name the code may look up as a global (attribute names too: a superset)."""
    names = set(code.co_names)
    for constant in code.co_consts:
        if hasattr(constant, "co_names"):
            names |= _names(constant)
    return names


_GLOBAL_LOADS = frozenset({"LOAD_GLOBAL", "LOAD_NAME", "LOAD_FROM_DICT_OR_GLOBALS"})


def _loaded_globals(code: Any) -> set[str]:
    """The names the code reads as globals (`co_names` holds attribute names too)."""
    names = {str(op.argval) for op in dis.get_instructions(code) if op.opname in _GLOBAL_LOADS}
    for constant in code.co_consts:
        if hasattr(constant, "co_code"):
            names |= _loaded_globals(constant)
    return names


def new_namespace(explainer: Explainer) -> dict[str, Any]:
    return {"__name__": TESTS_MODULE, "__builtins__": builtins, "__file__": TESTS_FILENAME, **explainer.helpers()}
