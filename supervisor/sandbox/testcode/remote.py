"""Runs in: a test-code case: both the solution's process and the tests' process.

The two ends of a test case: the solution's process and the tests' view of it.

In test-code mode the tests and the solution never share a process (see `judge`): the
solution runs in a child of the tests' process and answers operations on a socket, and
the tests hold `RemoteObject`s, proxies for the solution's objects. Values cross in the
tagged encoding of `values`: builtin values are copied, anything else becomes a
reference into the solution's table of objects. So what the solution gives the tests is
only ever data: it cannot reach the tests' objects, and no method of its own runs where
the verdict is decided. The one thing a proxy never asks the solution is equality: a
solution object equals only itself (an `__eq__` that says True to everything would
otherwise pass any `assert candidate(x) == y`); ordering and arithmetic are refused.

Operations (frames on the socket; replies carry what the solution printed meanwhile):
    tests -> solution: {"op": "lookup", "names": [...]} | {"op": "entry", "expr": E}
                     | {"op": "apply", "fn": F, "ref": N, "args": [...], "kwargs": [...]}
    solution -> tests: {"ready": true} | {"value": V} | {"found": {...}} | {"raised": {...}}
                     each with "out": what was printed since the last reply
"""

from __future__ import annotations

import builtins
import operator
import socket
import sys
import types
from collections.abc import Callable, Iterator
from typing import Any

from supervisor.sandbox import frames, function_case, values

MESSAGE_LIMIT = 200  # characters of an exception's message carried over as its message
_SKIPPED_GLOBALS = frozenset({"__name__", "__builtins__", "__file__", "__doc__", "__loader__", "__spec__",
                              "__package__", "__annotations__", "__cached__"})


# --- the solution's process ---------------------------------------------------------------

def _call(target: Any, *args: Any, **kwargs: Any) -> Any:
    return target(*args, **kwargs)


OPERATIONS: dict[str, Callable[..., Any]] = {
    "call": _call, "getattr": getattr, "setattr": setattr, "getitem": operator.getitem,
    "setitem": operator.setitem, "delitem": operator.delitem, "len": len, "bool": bool,
    "contains": operator.contains, "iter": iter, "next": next, "repr": values.safe_repr, "str": str,
}


class Solution:
    """The solution's side: its globals, and the objects it has handed out by number."""

    def __init__(self, sock: socket.socket, output: function_case.CappedWriter) -> None:
        self.sock = sock
        self.output = output
        self.sent = 0
        self.objects: list[Any] = []
        self.namespace: dict[str, Any] = {}

    def serve(self, code_object: Any, stdout_limit: int) -> None:
        """Run the solution's code, then answer until the tests close the socket. A
        `reset` (the next test of a unit that serves several) runs the code again in
        fresh globals, with its output counted from nothing."""
        self._reply(self._run_module(code_object))
        while True:
            request = frames.recv(self.sock)
            if request is None:
                return
            if isinstance(request, dict) and request.get("op") == "reset":
                self.objects.clear()
                self.output = function_case.CappedWriter(stdout_limit)
                self.sent = 0
                sys.stdout = self.output
                self._reply(self._run_module(code_object))
                continue
            try:
                reply = self._answer(request)
            except BaseException as exc:  # noqa: BLE001 - the solution's exception, for the tests
                reply = {"raised": describe_exception(exc)}
            self._reply(reply)

    def _run_module(self, code_object: Any) -> dict[str, Any]:
        try:
            self.namespace = function_case.new_namespace()
            exec(code_object, self.namespace)  # noqa: S102 - this is the sandbox
            return {"ready": True}
        except BaseException as exc:  # noqa: BLE001 - an import-time error is the case's error
            return {"raised": describe_exception(exc)}

    def _answer(self, request: dict[str, Any]) -> dict[str, Any]:
        op = request["op"]
        if op == "lookup":
            return {"found": {name: self._describe_global(self.namespace[name]) for name in request["names"]
                              if name in self.namespace and name not in _SKIPPED_GLOBALS}}
        if op == "entry":
            expression = compile(str(request["expr"]).strip(), "<entry_point>", "eval", dont_inherit=True)
            target = function_case.resolve_unbound_method(eval(expression, self.namespace), self.namespace)  # noqa: S307
            return {"value": self.encode(target)}
        function = OPERATIONS[request["fn"]]
        target = self.objects[int(request["ref"])]
        args = values.decode(request["args"], self._resolve)
        kwargs = dict(values.decode(request["kwargs"], self._resolve))
        result = function(target, *args, **kwargs)
        reply = {"value": self.encode(result)}
        if request["fn"] == "call":  # arguments the solution changed in place go back changed
            reply["args"] = [self.encode(a) if type(a) in _MUTABLE else None for a in args]
        return reply

    def _describe_global(self, value: Any) -> Any:
        if isinstance(value, types.ModuleType):
            return {"module": value.__name__, "ref": self.refer(value)}
        return {"value": self.encode(value)}

    def encode(self, value: Any) -> Any:
        return values.encode(value, self.refer)

    def refer(self, value: Any) -> dict[str, Any]:
        self.objects.append(value)
        return {"$": "ref", "id": len(self.objects) - 1, "callable": callable(value)}

    def _resolve(self, reference: dict[str, Any]) -> Any:
        return self.objects[int(reference["id"])]

    def _reply(self, reply: dict[str, Any]) -> None:
        text = self.output.getvalue()
        reply["out"], self.sent = text[self.sent:], len(text)
        frames.send(self.sock, reply)


_MUTABLE = (list, dict, set)


def describe_exception(exc: BaseException) -> dict[str, Any]:
    """An exception of the solution as the tests rebuild it: its type's name, the builtin
    exception types it derives from, its message, and its traceback as text."""
    bases = [cls.__name__ for cls in type(exc).__mro__
             if isinstance(cls, type) and getattr(builtins, cls.__name__, None) is cls]
    try:
        message = str(exc)
    except BaseException:  # noqa: BLE001
        message = "<unprintable message>"
    try:
        arguments = values.encode(tuple(exc.args))
    except BaseException:  # noqa: BLE001 - args of the solution's own making
        arguments = None
    return {"type": type(exc).__name__, "bases": bases, "message": message[:10_000], "args": arguments,
            "error": function_case.format_error(exc)}


# --- the tests' process --------------------------------------------------------------------

class SolutionGone(BaseException):  # noqa: N818
    """The solution's process ended (or sent garbage) while the tests needed it. Not an
    Exception: a test's `except Exception` must not take a dead solution for a result."""


class Channel:
    """The tests' end of the socket: one request, one reply, output forwarded."""

    def __init__(self, sock: socket.socket, output: function_case.CappedWriter) -> None:
        self.sock = sock
        self.output = output
        self.gone = False  # once the solution is gone, it stays gone, and the case says so
        self.modules: set[str] = set()  # names `lookup` found bound to a module in the solution

    def request(self, message: dict[str, Any] | None) -> dict[str, Any]:
        """Send `message` (None: only wait for the solution's first reply) and return the
        reply; the solution's exception is raised here, rebuilt."""
        if self.gone:
            raise SolutionGone("the solution's process ended")
        try:
            if message is not None:
                frames.send(self.sock, message)
            reply = frames.recv(self.sock)
        except (OSError, ValueError, RecursionError) as exc:
            self.gone = True
            raise SolutionGone(f"{type(exc).__name__}: {exc}") from None
        if not isinstance(reply, dict):
            self.gone = True
            raise SolutionGone("the solution's process ended")
        self.output.write(str(reply.get("out") or ""))
        if "raised" in reply:
            raise rebuild_exception(reply["raised"])
        return reply

    def decode(self, data: Any) -> Any:
        try:
            return values.decode(data, self._resolve)
        except ValueError as exc:
            self.gone = True
            raise SolutionGone(f"the solution sent a malformed value ({exc})") from None

    def _resolve(self, reference: dict[str, Any]) -> RemoteObject:
        return RemoteObject(self, int(reference["id"]), bool(reference.get("callable")))

    def lookup(self, names: list[str]) -> dict[str, Any]:
        """The solution's globals among `names`: values copied, anything else a proxy. A
        module the solution imported is this process's module of that name if this
        process has already loaded it, else a proxy too: importing here a module the
        solution names could run code of its choosing (a package's `__main__`)."""
        found = self.request({"op": "lookup", "names": names})["found"]
        namespace: dict[str, Any] = {}
        for name, described in found.items():
            if name not in names:
                continue  # only what was asked for: the solution's reply is its own to make
            if "module" in described:
                self.modules.add(name)
                loaded = sys.modules.get(str(described["module"]))
                namespace[name] = loaded if isinstance(loaded, types.ModuleType) else self._resolve(described["ref"])
                continue
            namespace[name] = self.decode(described["value"])
        return namespace

    def entry(self, expression: str) -> Any:
        return self.decode(self.request({"op": "entry", "expr": expression})["value"])

    def apply(self, fn: str, ref: int, *args: Any, **kwargs: Any) -> Any:
        sent = [encode_argument(a) for a in args]
        reply = self.request({"op": "apply", "fn": fn, "ref": ref, "args": sent,
                              "kwargs": {"$": "dict", "v": [[k, encode_argument(v)] for k, v in kwargs.items()]}})
        for original, changed in zip(args, reply.get("args") or (), strict=False):
            if changed is not None and type(original) in _MUTABLE:
                _update_in_place(original, self.decode(changed))
        return self.decode(reply["value"])


def _update_in_place(original: Any, changed: Any) -> None:
    """An argument the solution changed in place is changed the same way here."""
    if type(original) is not type(changed):
        return
    if isinstance(original, list):
        original[:] = changed
    else:
        original.clear()
        original.update(changed)


def encode_argument(value: Any) -> Any:
    """An argument for the solution: builtin values, and the solution's own objects."""
    def refer(part: Any) -> dict[str, Any]:
        if isinstance(part, RemoteObject):
            return {"$": "ref", "id": object.__getattribute__(part, "_ref")}
        raise TypeError(f"a {type(part).__name__} cannot be passed to the solution: arguments cross as "
                        "builtin values (None, bool, int, float, str, bytes, list, tuple, set, dict) "
                        "or objects the solution made")
    return values.encode(value, refer)


def rebuild_exception(described: dict[str, Any]) -> BaseException:
    """The solution's exception as one of the tests' own: the same builtin type (a class
    of the solution's own becomes a class of its name deriving from its builtin bases),
    so `except ValueError` and `assertRaises` behave as they would in one process."""
    name = str(described.get("type") or "Exception")
    message = str(described.get("message") or "")
    bases = [getattr(builtins, b) for b in described.get("bases") or () if isinstance(b, str)]
    bases = [b for b in bases if isinstance(b, type) and issubclass(b, BaseException)
             and b not in (KeyboardInterrupt, GeneratorExit)]  # those two never mean a result
    first = bases[0] if bases else Exception
    cls = first if first.__name__ == name else type(name, (first,), {"__module__": "solution"})
    arguments: Any = None
    try:
        encoded = described.get("args")
        if encoded is not None and not values.has_opaque(encoded):
            arguments = values.decode(encoded)
    except ValueError:
        pass
    try:
        if isinstance(arguments, tuple):
            exc = cls(*arguments)  # KeyError('k') stays KeyError('k'), e.args as the solution had them
        else:
            exc = cls(message) if message else cls()
    except Exception:  # noqa: BLE001 - a builtin type with other constructor arguments
        exc = type(name, (Exception,), {"__module__": "solution"})(message)
    exc.solution_error = str(described.get("error") or "")
    return exc


class RemoteObject:
    """One of the solution's objects, as the tests see it. Every operation is asked of
    the solution, except equality (identity only), hashing, ordering and arithmetic."""

    __slots__ = ("_channel", "_ref", "_callable")

    def __init__(self, channel: Channel, ref: int, is_callable: bool) -> None:
        object.__setattr__(self, "_channel", channel)
        object.__setattr__(self, "_ref", ref)
        object.__setattr__(self, "_callable", is_callable)

    def _apply(self, fn: str, *args: Any, **kwargs: Any) -> Any:
        return object.__getattribute__(self, "_channel").apply(fn, object.__getattribute__(self, "_ref"),
                                                                *args, **kwargs)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._apply("call", *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return self._apply("getattr", name)

    def __setattr__(self, name: str, value: Any) -> None:
        self._apply("setattr", name, value)

    def __getitem__(self, key: Any) -> Any:
        return self._apply("getitem", key)

    def __setitem__(self, key: Any, value: Any) -> None:
        self._apply("setitem", key, value)

    def __delitem__(self, key: Any) -> None:
        self._apply("delitem", key)

    def __len__(self) -> int:
        length = self._apply("len")
        if type(length) is not int:
            raise TypeError("the solution's __len__ did not return an int")
        return length

    def __bool__(self) -> bool:
        return self._apply("bool") is True

    def __contains__(self, item: Any) -> bool:
        return self._apply("contains", item) is True

    def __iter__(self) -> Iterator[Any]:
        return _RemoteIterator(self._apply("iter"))

    def __repr__(self) -> str:
        try:
            return str(self._apply("repr"))
        except Exception as exc:  # noqa: BLE001 - a repr never fails the test
            return f"<solution object: {type(exc).__name__}>"

    def __str__(self) -> str:
        text = self._apply("str")
        return text if type(text) is str else repr(text)

    __eq__ = object.__eq__
    __ne__ = object.__ne__
    __hash__ = object.__hash__


class _RemoteIterator:
    """Iteration over one of the solution's iterators (a generator it returned)."""

    def __init__(self, iterator: Any) -> None:
        self.iterator = iterator

    def __iter__(self) -> _RemoteIterator:
        return self

    def __next__(self) -> Any:
        if isinstance(self.iterator, RemoteObject):
            return self.iterator._apply("next")
        return next(self.iterator)  # iter() of the solution's object gave a builtin value


def serve_solution(sock: socket.socket, code_object: Any, stdout_limit: int) -> None:
    """The solution's process: its prints captured, then `Solution.serve`."""
    output = function_case.CappedWriter(stdout_limit)
    sys.stdout, sys.stderr = output, function_case.CappedWriter(0)
    Solution(sock, output).serve(code_object, stdout_limit)
