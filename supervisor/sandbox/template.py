"""The template: a confined process, forked once per sandbox, that forks every unit.

Confining a process (rlimits, no-new-privs, dropping capabilities, changing uid,
installing seccomp) costs about as much as the fork itself, and a case process needs all
of it. So the sandbox's init confines one process, the template, once; every case and
every command is then a single fork of it, already confined, that only gives up the
template's saved uid (`worker.become`).

The template never runs user code. It is unprivileged like the code it forks, but no
unit can touch it: it runs with real and saved uid `template_uid` (see
`confine.drop_identity`), so a unit (only the sandbox uid) can neither signal nor trace
it, and /proc (`hidepid=2`) does not even show it. Because it never runs user code it can
be reused across requests; what a unit leaves behind is cleaned by the init
(`hygiene`).

A job template is a child of the template made for one evaluation whose code imports
modules the template has not loaded: it imports them once (outside the session
directory, so a session file cannot shadow a module), then forks that job's cases, which
find them in `sys.modules`. It lives for that job only.

Messages (frames over a stream socket; descriptors ride on a one-byte message before
the frame they belong to):
    init -> template: {"op": "fork", "unit": ...} + the unit's pipe ends
                      {"op": "template", "modules": [...]} + the job template's socket
    template -> init: {"op": "ready"} | {"op": "forked", "pid": P}
                      | {"op": "exited", "pid": P, "status": S, "cpu": C, "maxrss_kb": M}
"""

from __future__ import annotations

import ast
import gc
import importlib
import os
import select
import signal
import socket
import sys
import time
from dataclasses import dataclass, field
from collections.abc import Iterator
from typing import Any, NoReturn

from supervisor.sandbox import confine, evaluate, frames, jobs, values, worker

MAX_FDS = 4


# --- the template process --------------------------------------------------------------

def serve(sock: socket.socket, identity: confine.UnitIdentity, modules: list[str] | None = None) -> NoReturn:
    """The template's loop (in a process already confined): fork units until the init
    closes the socket."""
    os.chdir("/")
    os.environ.clear()  # once here: every unit inherits exactly the sandbox's environment
    os.environ.update(identity.environment)
    if modules:
        _import_quietly(modules)
    _warm_up()
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    gc.collect()
    gc.freeze()  # shared with every fork: a collection in a unit does not copy these pages
    _send(sock, {"op": "ready"})
    poller = select.poll()
    poller.register(sock.fileno(), select.POLLIN)
    poller.register(wake_r, select.POLLIN)
    while True:
        for fd, _ in poller.poll():
            if fd == wake_r:
                os.read(wake_r, 4096)
                _reap(sock)
                continue
            message, fds = _recv(sock)
            if message is None:
                os._exit(0)  # the init is gone or done with us; our units die with the sandbox
            if message["op"] == "fork":
                _fork_unit(sock, jobs.unit_from_wire(message["unit"]), fds, identity)
            elif message["op"] == "template":
                _fork_template(sock, fds[0], identity, message["modules"], (wake_r, wake_w))


def _fork_unit(sock: socket.socket, unit: jobs.Unit, fds: list[int], identity: confine.UnitIdentity) -> None:
    pid = os.fork()
    if pid == 0:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        worker.become(unit, fds, identity)
    for fd in fds:
        os.close(fd)
    _send(sock, {"op": "forked", "pid": pid})


def _fork_template(sock: socket.socket, child_fd: int, identity: confine.UnitIdentity, modules: list[str],
                   wake: tuple[int, int]) -> None:
    pid = os.fork()
    if pid == 0:
        try:
            signal.set_wakeup_fd(-1)
            for fd in (sock.fileno(), *wake):
                os.close(fd)
            serve(socket.socket(fileno=child_fd), identity, modules)
        finally:
            os._exit(worker.EXIT_BROKEN)
    os.close(child_fd)
    _send(sock, {"op": "forked", "pid": pid})


def _warm_up() -> None:
    """Run a throw-away case here, in the template, before any unit is forked.

    A forked interpreter shares its parent's memory until it writes to it, and the first
    run of a code path writes a lot (caches filled, objects allocated and interned): done
    once here, every unit inherits the result instead of copying those pages itself.
    Nothing of it is visible to units: it runs in its own globals and restores stdout.
    """
    code = evaluate.compile_solution("def warm_up(a, b=2):\n    return [a + b]")
    for expected in (None, "[3]"):
        report = evaluate.run_case(code, "warm_up", "1, b=2", expected, 16)
        frames.encode(report)
        values.decode(report["got"])
    values.parse_literal("[3]")
    evaluate.linecache.cache.pop(evaluate.SOLUTION_FILENAME, None)


def _import_quietly(modules: list[str]) -> None:
    """Import what a job's code will import; a module that fails is left for the case
    to fail on, with its own traceback."""
    sys.path[:] = [p for p in sys.path if p and not p.startswith(confine.WORKDIR)]
    for name in modules:
        try:
            importlib.import_module(name)
        except BaseException:  # noqa: BLE001 - any failure is the case's to report
            pass


def _reap(sock: socket.socket) -> None:
    for exited in reap_children():
        _send(sock, exited)


def reap_children() -> Iterator[dict[str, Any]]:
    """An `exited` message for each child that has ended, without waiting: how it ended
    and what it used (the zygote reports its sandboxes the same way)."""
    while True:
        try:
            pid, status, usage = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        yield {"op": "exited", "pid": pid, "status": status,
               "cpu": usage.ru_utime + usage.ru_stime, "maxrss_kb": usage.ru_maxrss}


def imports_of(code: str) -> list[str]:
    """The absolute module names the code imports at its top level (its module body and
    the bodies of its top-level functions and classes), in order, without repeats."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return list(dict.fromkeys(names))


# --- transport -------------------------------------------------------------------------

def _send(sock: socket.socket, message: dict[str, Any], fds: list[int] | None = None) -> None:
    if fds:
        socket.send_fds(sock, [b"F"], fds)
    sock.sendall(frames.encode(message))


def _recv(sock: socket.socket) -> tuple[dict[str, Any] | None, list[int]]:
    """One message and the descriptors sent just before it."""
    fds: list[int] = []
    head = sock.recv(1, socket.MSG_PEEK)
    if not head:
        return None, []
    if head == b"F":
        _, fds, _, _ = socket.recv_fds(sock, 1, MAX_FDS)
    return frames.recv(sock), list(fds)


# --- the init's handle on it -------------------------------------------------------------

@dataclass
class Handle:
    """The init's end of a template: fork units, learn how they ended."""

    pid: int
    sock: socket.socket
    exits: dict[int, jobs.Exit] = field(default_factory=dict)
    alive: bool = True

    def fork(self, unit: jobs.Unit, fds: list[int]) -> int:
        """Have the template fork `unit` with `fds` as its pipes; return its pid."""
        _send(self.sock, {"op": "fork", "unit": jobs.unit_to_wire(unit)}, fds)
        return self._wait_forked()

    def fork_template(self, modules: list[str]) -> Handle:
        """A job template that has imported `modules` (or tried to)."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            _send(self.sock, {"op": "template", "modules": modules}, [theirs.fileno()])
        finally:
            theirs.close()
        return Handle(self._wait_forked(), ours)

    def wait_ready(self, timeout: float) -> bool:
        message = self._next(time.monotonic() + timeout)
        return message is not None and message.get("op") == "ready"

    def wait_exit(self, pid: int, timeout: float) -> jobs.Exit:
        """How unit `pid` ended; status None if the template did not say in time."""
        deadline = time.monotonic() + timeout
        while pid not in self.exits:
            if self._next(deadline) is None:
                return jobs.Exit(status=None)
        return self.exits.pop(pid)

    def close(self) -> None:
        self.alive = False
        self.sock.close()

    def _wait_forked(self) -> int:
        message = self._next(time.monotonic() + 10)
        while message is not None and message.get("op") != "forked":
            message = self._next(time.monotonic() + 10)
        if message is None:
            raise OSError("the template did not fork the unit")
        return int(message["pid"])

    def _next(self, deadline: float) -> dict[str, Any] | None:
        """The next message that is not an exit report (those are filed in `exits`), or
        None at the deadline or when the template is gone."""
        while self.alive:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.sock], [], [], left)[0]:
                return None
            try:
                message, _ = _recv(self.sock)
            except (OSError, ValueError):
                message = None
            if message is None:
                self.alive = False
                return None
            if message.get("op") == "exited":
                self.exits[int(message["pid"])] = jobs.Exit(
                    status=int(message["status"]), cpu_seconds=float(message["cpu"]),
                    maxrss_kb=int(message["maxrss_kb"]))
                return {"op": "exited"}
            return message
        return None
