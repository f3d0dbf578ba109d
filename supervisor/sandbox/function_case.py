"""Runs in: a unit (a function case), and the template once (its warm-up).

Run one evaluation case: the semantics of docs/api.md §4, executed inside a sandboxed process.

This module is pure Python with no I/O of its own so that it can be unit-tested without a
sandbox. `run_case` is called in a freshly forked, already confined process and returns a
JSON-ready dict; the init adds timing and handles deaths by signal.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import io
import linecache
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any

from supervisor.sandbox import values

SOLUTION_FILENAME = "<solution>"
# __name__ of the solution's globals: not "__main__", so `if __name__ == "__main__":` blocks
# do not run (docs/api.md §4; the FastAPI service this one replaces did the same)
SOLUTION_MODULE = "solution"


class CappedWriter(io.TextIOBase):
    """A text stream that keeps the first `limit` characters written and drops the rest.

    Replaces sys.stdout in a case's unit so a print flood costs memory no larger than
    the cap.
    """

    def __init__(self, limit: int) -> None:
        self._parts: list[str] = []
        self._left = limit

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if self._left > 0 and text:
            piece = text[: self._left]
            self._parts.append(piece)
            self._left -= len(piece)
        return len(text)

    def getvalue(self) -> str:
        return "".join(self._parts)


# --- argument parsing --------------------------------------------------------------------

def parse_call(text: str) -> ast.Call:
    """Parse `text` as the argument list of a call.

    Raises:
        SyntaxError: `text` is not an argument list (for example it closes the parenthesis).
    """
    tree = ast.parse(f"_({text}\n)", filename="<input>", mode="eval")
    call = tree.body
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "_"):
        raise SyntaxError(f"input is not an argument list: {text!r}")
    return call


def evaluate_node(node: ast.expr, namespace: dict[str, Any], filename: str) -> Any:
    """A literal is parsed safely; anything else is evaluated in the solution's globals."""
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        expression = ast.Expression(body=node)
        ast.fix_missing_locations(expression)
        return eval(compile(expression, filename, "eval", dont_inherit=True), namespace)  # noqa: S307 - sandboxed


def build_arguments(text: str, namespace: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    """Turn a case's `input` into positional and keyword arguments."""
    call = parse_call(text)
    args: list[Any] = []
    for node in call.args:
        if isinstance(node, ast.Starred):
            args.extend(evaluate_node(node.value, namespace, "<input>"))
        else:
            args.append(evaluate_node(node, namespace, "<input>"))
    kwargs: dict[str, Any] = {}
    for keyword in call.keywords:
        value = evaluate_node(keyword.value, namespace, "<input>")
        if keyword.arg is None:
            kwargs.update(value)
        else:
            kwargs[keyword.arg] = value
    return args, kwargs


def parse_expected(text: str, namespace: dict[str, Any]) -> Any:
    """A case's `output`: a literal, or else an expression in the solution's globals."""
    tree = ast.parse(text.strip() or "None", filename="<output>", mode="eval")
    return evaluate_node(tree.body, namespace, "<output>")


# --- binding ---------------------------------------------------------------------------

def _positional_parameters(signature: inspect.Signature) -> list[inspect.Parameter]:
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    params = [p for p in signature.parameters.values() if p.kind in kinds]
    if params and params[0].name == "self":
        params = params[1:]
    return params


def resolve_unbound_method(func: Any, namespace: dict[str, Any]) -> Any:
    """`Solution.method` given as entry point: bind it to a fresh `Solution()`.

    The leading `self` is not an argument of the case, so the method is called on an
    instance of its class when that class can be found in the solution's globals.
    """
    if not inspect.isfunction(func):
        return func
    owner_name, _, method_name = func.__qualname__.rpartition(".")
    if not owner_name or "." in owner_name:
        return func  # a plain function: the common case, decided without inspect
    params = list(inspect.signature(func).parameters)
    if not params or params[0] != "self":
        return func
    owner = namespace.get(owner_name)
    if not isinstance(owner, type) or getattr(owner, method_name, None) is not func:
        return func
    return getattr(owner(), method_name)


def _binds_plainly(func: Any, args: list[Any], kwargs: dict[str, Any]) -> bool:
    """A plain function called with exactly its positional parameters: nothing to decide.

    The common case, answered from the code object alone: `inspect.signature` costs a
    case tens of microseconds and, in a freshly forked process, many copied pages.
    """
    bound = 0
    if inspect.ismethod(func):  # Solution().method: its first parameter is already bound
        func, bound = func.__func__, 1
    if kwargs or not inspect.isfunction(func):
        return False
    code = func.__code__
    plain = not (code.co_flags & (inspect.CO_VARARGS | inspect.CO_VARKEYWORDS)) and not code.co_kwonlyargcount
    return plain and code.co_argcount - bound == len(args)


def bind_arguments(func: Callable[..., Any], args: list[Any],
                   kwargs: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    """Apply the compatibility rule: several positional values that cannot be bound
    separately are passed as one tuple when the callable takes exactly one positional
    parameter. Anything else is left for the call itself to reject."""
    if _binds_plainly(func, args, kwargs):
        return args, kwargs
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):
        return args, kwargs
    try:
        signature.bind(*args, **kwargs)
        return args, kwargs
    except TypeError:
        pass
    if len(args) > 1 and len(_positional_parameters(signature)) == 1:
        packed = [tuple(args)]
        try:
            signature.bind(*packed, **kwargs)
            return packed, kwargs
        except TypeError:
            pass
    return args, kwargs


# --- errors --------------------------------------------------------------------------

#: Frames from files under this directory are the harness's, never shown to the user.
_HARNESS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def format_error(exc: BaseException, hidden: tuple[str, ...] = ()) -> str:
    """`TypeName: message` then the traceback, without the harness's own frames (nor
    those of files under `hidden`: unittest's, for a test it ran)."""
    summary = traceback.TracebackException.from_exception(exc, limit=50)
    summary.stack = traceback.StackSummary.from_list(
        [frame for frame in summary.stack if not frame.filename.startswith((_HARNESS_DIR, *hidden))]
    )
    lines = list(summary.format())
    try:
        message = str(exc)
    except BaseException:  # noqa: BLE001
        message = "<unprintable message>"
    head = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return head + "\n" + "".join(lines)


# --- one case --------------------------------------------------------------------------

def compile_solution(code: str) -> Any:
    """Compile the solution, registering its source so tracebacks show its lines."""
    linecache.cache[SOLUTION_FILENAME] = (len(code), None, code.splitlines(True), SOLUTION_FILENAME)
    return compile(code, SOLUTION_FILENAME, "exec", dont_inherit=True)  # no __future__ of this module


def new_namespace() -> dict[str, Any]:
    return {"__name__": SOLUTION_MODULE, "__builtins__": builtins, "__file__": SOLUTION_FILENAME}


def run_case(code_object: Any, entry_point: str, case_input: str, case_output: str | None,
             stdout_limit: int, tolerance: float | None = None) -> dict[str, Any]:
    """Execute the solution's module level in fresh globals, then one case; return the
    unit's report (`messages.CaseReport`).

    The report is a claim: the init decides the verdict (see `values`). `got` is the
    returned value in the tagged encoding. `case_output` None means the init kept the
    expected output to itself (a literal, which it compares itself), so user code can
    never read the answer. Otherwise (an expression) the expected value is evaluated here
    before the call, reported as `expected`, and `eq` is this process's `got == expected`
    (or `values.close` with a `tolerance`).
    Every exception of user code (SystemExit and KeyboardInterrupt included) becomes an
    `error` outcome; MemoryError becomes `memory`.
    """
    module = Module(code_object, stdout_limit)
    if module.failure is not None:
        return module.failure
    return module.run_case(entry_point, case_input, case_output, tolerance)


class Module:
    """The solution's module level, run once in fresh globals, and the cases run against it.

    With `isolation: "request"` a unit makes one for each case (`run_case`); with
    `isolation: "case"` the unit makes one and forks a process for each case, which
    finds the module's globals (and what it printed) as the module level left them.
    """

    def __init__(self, code_object: Any, stdout_limit: int) -> None:
        self.captured = CappedWriter(stdout_limit)
        self.namespace = new_namespace()
        self.failure: dict[str, Any] | None = None
        sys.stdout, sys.stderr = self.captured, CappedWriter(0)
        try:
            exec(code_object, self.namespace)  # noqa: S102 - this is the sandbox
        except BaseException as exc:  # noqa: BLE001 - an import-time error is each case's error
            self.failure = _failure(exc)
            self.failure["stdout"] = self.captured.getvalue()
        finally:
            sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__

    def run_case(self, entry_point: str, case_input: str, case_output: str | None,
                 tolerance: float | None = None) -> dict[str, Any]:
        """One case against the module's globals (see `run_case`)."""
        if self.failure is not None:
            return dict(self.failure)
        namespace = self.namespace
        sys.stdout, sys.stderr = self.captured, CappedWriter(0)
        report: dict[str, Any] = {"outcome": "error", "got": None, "eq": False, "expected": None, "error": None}
        try:
            expected: Any = None
            if case_output is not None:
                expected = parse_expected(case_output, namespace)
                report["expected"] = values.to_display(expected)
            func = resolve_unbound_method(
                eval(compile(entry_point.strip(), "<entry_point>", "eval", dont_inherit=True), namespace), namespace)  # noqa: S307
            args, kwargs = build_arguments(case_input, namespace)
            args, kwargs = bind_arguments(func, args, kwargs)
            got = func(*args, **kwargs)
            report["got"] = values.encode(got)
            if case_output is not None:
                report["eq"] = values.same(got, expected, tolerance) if tolerance is not None else bool(got == expected)
            report["outcome"] = "returned"
        except BaseException as exc:  # noqa: BLE001 - any user exception is a case error
            report.update(_failure(exc))
        finally:
            sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
        report["stdout"] = self.captured.getvalue()
        return report


def _failure(exc: BaseException) -> dict[str, Any]:
    """The report of a case that raised: MemoryError is `memory`, anything else `error`."""
    outcome = "memory" if isinstance(exc, MemoryError) else "error"
    return {"outcome": outcome, "got": None, "eq": False, "expected": None, "error": format_error(exc)}


def ends_process(report: dict[str, Any]) -> bool:
    """A case whose process must not serve another (docs/api.md §4, isolation): one that
    ran out of memory, or that exited (SystemExit)."""
    return report.get("outcome") == "memory" or str(report.get("error") or "").startswith("SystemExit")
