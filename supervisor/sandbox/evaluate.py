"""Run one evaluation case: the semantics of SPEC §4, executed inside a sandboxed process.

This module is pure Python with no I/O of its own so that it can be unit-tested without a
sandbox. `run_case` is called in a freshly forked, already confined process and returns a
JSON-ready dict; the sandbox child adds timing and handles deaths by signal.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import io
import linecache
import math
import sys
import traceback
from typing import Any, Callable

SOLUTION_FILENAME = "<solution>"
SOLUTION_MODULE = "solution"  # __name__ of the solution's globals: not "__main__", as in the original
REPR_LIMIT = 10_000


class CappedWriter(io.TextIOBase):
    """A text stream that keeps the first `limit` characters written and drops the rest.

    Replaces sys.stdout in a case process so a print flood costs memory no larger than
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
        return eval(compile(expression, filename, "eval"), namespace)  # noqa: S307 - sandboxed


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
    params = list(inspect.signature(func).parameters)
    owner_name, _, method_name = func.__qualname__.rpartition(".")
    if not params or params[0] != "self" or not owner_name or "." in owner_name:
        return func
    owner = namespace.get(owner_name)
    if not isinstance(owner, type) or getattr(owner, method_name, None) is not func:
        return func
    return getattr(owner(), method_name)


def bind_arguments(func: Callable[..., Any], args: list[Any], kwargs: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    """Apply the compatibility rule: several positional values that cannot be bound
    separately are passed as one tuple when the callable takes exactly one positional
    parameter. Anything else is left for the call itself to reject."""
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


# --- values ----------------------------------------------------------------------------

class _NotJson(Exception):
    pass


def _jsonable(value: Any, depth: int) -> Any:
    if depth > 64:
        raise _NotJson
    kind = type(value)
    if value is None or kind is bool or kind is str or kind is int:
        return value
    if kind is float:
        if math.isfinite(value):
            return value
        raise _NotJson
    if kind is list or kind is tuple:
        return [_jsonable(item, depth + 1) for item in value]
    if kind is dict:
        if not all(type(key) is str for key in value):
            raise _NotJson
        return {key: _jsonable(item, depth + 1) for key, item in value.items()}
    raise _NotJson


def safe_repr(value: Any) -> str:
    """repr that never raises and never returns more than REPR_LIMIT characters."""
    try:
        text = repr(value)
    except BaseException as exc:  # noqa: BLE001 - user __repr__ may raise anything
        text = f"<unrepresentable {type(value).__name__}: {type(exc).__name__}>"
    if len(text) > REPR_LIMIT:
        text = text[:REPR_LIMIT] + "...<truncated>"
    return text


def to_wire(value: Any) -> Any:
    """The JSON value of `value` where it has one (tuples as lists), else its repr."""
    try:
        return _jsonable(value, 0)
    except (_NotJson, RecursionError):
        return safe_repr(value)


def format_error(exc: BaseException) -> str:
    """`TypeName: message` then the traceback, without this module's own frames."""
    summary = traceback.TracebackException.from_exception(exc, limit=50)
    summary.stack = traceback.StackSummary.from_list(
        [frame for frame in summary.stack if frame.filename != __file__]
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
    return compile(code, SOLUTION_FILENAME, "exec")


def new_namespace() -> dict[str, Any]:
    return {"__name__": SOLUTION_MODULE, "__builtins__": builtins, "__file__": SOLUTION_FILENAME}


def run_case(code_object: Any, entry_point: str, case_input: str, case_output: str,
             stdout_limit: int) -> dict[str, Any]:
    """Execute the solution and one case; return status, got, expected, error, stdout.

    Every exception of user code (SystemExit and KeyboardInterrupt included) becomes an
    `error` result; MemoryError becomes `memory`.
    """
    captured = CappedWriter(stdout_limit)
    sys.stdout = captured
    sys.stderr = CappedWriter(0)
    result: dict[str, Any] = {"got": None, "expected": None, "error": None}
    try:
        namespace = new_namespace()
        exec(code_object, namespace)  # noqa: S102 - this is the sandbox
        expected = parse_expected(case_output, namespace)
        result["expected"] = to_wire(expected)
        func = resolve_unbound_method(
            eval(compile(entry_point.strip(), "<entry_point>", "eval"), namespace), namespace)  # noqa: S307
        args, kwargs = build_arguments(case_input, namespace)
        args, kwargs = bind_arguments(func, args, kwargs)
        got = func(*args, **kwargs)
        result["got"] = to_wire(got)
        passed = bool(got == expected)
        result["status"] = "passed" if passed else "failed"
    except MemoryError as exc:
        result.update(status="memory", error=format_error(exc))
    except BaseException as exc:  # noqa: BLE001 - any user exception is a case error
        result.update(status="error", error=format_error(exc))
    finally:
        sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
    result["passed"] = result["status"] == "passed"
    result["stdout"] = captured.getvalue()
    return result
