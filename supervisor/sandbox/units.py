"""Run one unit of user code in a fresh unprivileged process, under a deadline.

A unit is one evaluation case or one `/run` command. The sandbox's init forks a worker,
the worker drops its privileges and runs the unit; the init collects its output through
pipes (capped while read, never buffered whole), enforces the wall-clock deadline, and
afterwards kills every process the unit left behind.
"""

from __future__ import annotations

import errno
import json
import os
import select
import signal
import time
from dataclasses import dataclass, field
from typing import Callable

from supervisor.sandbox import confine

READ_CHUNK = 65536
MAX_FD = 1 << 16


@dataclass
class Capture:
    """Bytes read from one pipe, kept up to `limit`."""

    fd: int
    limit: int
    data: bytearray = field(default_factory=bytearray)
    truncated: bool = False
    open: bool = True


@dataclass
class Outcome:
    """How a unit ended."""

    status: int | None  # os.wait status, None if never reaped
    rusage: object | None
    timed_out: bool
    duration_ms: float
    captures: list[Capture]


@dataclass(frozen=True)
class Worker:
    """What the worker process needs to become unprivileged."""

    uid: int | None  # None: do not change uid (insecure mode, not root)
    cap_last: int
    limits: confine.Limits
    whole_namespace: bool  # True: kill(-1) cleans up; False: only the worker's group


def _read_some(capture: Capture) -> None:
    try:
        chunk = os.read(capture.fd, READ_CHUNK)
    except BlockingIOError:
        return
    except OSError:
        chunk = b""
    if not chunk:
        _close(capture)
        return
    room = capture.limit - len(capture.data)
    capture.data += chunk[: max(room, 0)]
    if len(chunk) > room:
        # Stop reading: the writer gets EPIPE/SIGPIPE instead of flooding us until its deadline.
        capture.truncated = True
        _close(capture)


def _close(capture: Capture) -> None:
    if capture.open:
        capture.open = False
        os.close(capture.fd)


def spawn(worker: Worker, body: Callable[[], None], stdio: tuple[int, int, int], keep: tuple[int, ...] = ()) -> int:
    """Fork a worker that drops privileges, wires `stdio` to fds 0-2, and runs `body`.

    Every other descriptor but `keep` is closed first: user code must not inherit the
    init's socket to the supervisor (it could forge reports) or anything else of ours.
    """
    pid = os.fork()
    if pid:
        return pid
    try:
        if not worker.whole_namespace:
            os.setsid()
        for target, source in enumerate(stdio):
            os.dup2(source, target)
        _close_all_but(keep)
        if worker.uid is not None:
            confine.drop_privileges(worker.uid, worker.limits, worker.cap_last)
        else:
            confine.set_limits(worker.limits)
        body()
    except BaseException:  # noqa: BLE001 - the worker must never return into the init's code
        os._exit(120)
    os._exit(0)


def _close_all_but(keep: tuple[int, ...]) -> None:
    low = 3
    for fd in sorted(keep):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, MAX_FD)


def supervise(pid: int, worker: Worker, captures: list[Capture], deadline: float,
              stdin: tuple[int, bytes] | None = None) -> Outcome:
    """Collect a worker's output until it exits or the deadline passes, then clean up."""
    started = time.monotonic()
    pidfd = os.pidfd_open(pid)
    poller = select.poll()
    by_fd = {c.fd: c for c in captures}
    for capture in captures:
        os.set_blocking(capture.fd, False)
        poller.register(capture.fd, select.POLLIN)
    poller.register(pidfd, select.POLLIN)
    pending_in = _start_stdin(poller, stdin)
    timed_out = False
    exited = False
    while not exited:
        left = deadline - time.monotonic()
        if left <= 0:
            timed_out = True
            break
        for fd, _ in poller.poll(max(1, int(left * 1000))):
            if fd == pidfd:
                exited = True
            elif stdin is not None and fd == stdin[0]:
                pending_in = _feed_stdin(poller, stdin[0], pending_in)
            elif fd in by_fd:
                _read_some(by_fd[fd])
                if not by_fd[fd].open:
                    poller.unregister(fd)
    kill_all(pid, worker.whole_namespace)
    status, rusage = _reap(pid)
    for capture in captures:
        _drain(capture)
    if stdin is not None and pending_in is not None:
        _close_quietly(stdin[0])
    os.close(pidfd)
    return Outcome(status, rusage, timed_out, (time.monotonic() - started) * 1000, captures)


def _start_stdin(poller: select.poll, stdin: tuple[int, bytes] | None) -> bytes | None:
    if stdin is None:
        return None
    fd, data = stdin
    if not data:
        os.close(fd)
        return None
    os.set_blocking(fd, False)
    poller.register(fd, select.POLLOUT)
    return data


def _feed_stdin(poller: select.poll, fd: int, pending: bytes | None) -> bytes | None:
    if pending is None:
        return None
    try:
        written = os.write(fd, pending[:READ_CHUNK])
    except BlockingIOError:
        return pending
    except OSError:
        written = len(pending)  # the reader went away; drop the rest
    pending = pending[written:]
    if not pending:
        poller.unregister(fd)
        os.close(fd)
        return None
    return pending


def _close_quietly(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass


def _drain(capture: Capture) -> None:
    """Read what the dead worker left in the pipe; its writers are all killed by now."""
    end = time.monotonic() + 0.5
    while capture.open and time.monotonic() < end:
        ready, _, _ = select.select([capture.fd], [], [], 0.05)
        if ready:
            _read_some(capture)
    _close(capture)


def kill_all(pid: int, whole_namespace: bool) -> None:
    """Kill the worker and everything it started.

    As pid 1 of the sandbox's pid namespace, kill(-1) reaches every other process in
    it, however it detached itself (setsid, double fork). Without namespaces only the
    worker's own process group can be reached.
    """
    try:
        if whole_namespace:
            os.kill(-1, signal.SIGKILL)
        else:
            os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _reap(pid: int) -> tuple[int | None, object | None]:
    status = rusage = None
    while True:
        try:
            child, child_status, child_rusage = os.wait4(-1, 0)
        except ChildProcessError:
            return status, rusage
        except InterruptedError:
            continue
        if child == pid:
            status, rusage = child_status, child_rusage


def make_pipe() -> tuple[int, int]:
    return os.pipe()


def write_json(fd: int, value: object) -> None:
    """Write a worker's result to its result pipe (blocking; the init is reading)."""
    data = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except InterruptedError:
            continue
        except OSError as exc:
            if exc.errno == errno.EPIPE:
                return
            raise
        view = view[written:]
