"""Runs in: the init.

Watch one unit of user code run: collect its output, enforce its deadline, stop it.

A unit is one evaluation case or one `/run` command, a process the template forked. The
init reads its pipes (capped while read, never buffered whole), feeds its stdin, and at
the end, however the unit ended, has everything it left behind killed (`stop`).
"""

from __future__ import annotations

import os
import select
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

READ_CHUNK = 65536


@dataclass
class Capture:
    """Bytes read from one pipe, kept up to `limit`.

    `drain`: past the limit, keep reading and drop what comes (the writer goes on to its
    verdict: a checker's debug output), instead of closing the pipe on it (a program's
    output: the writer gets SIGPIPE rather than flooding until its deadline)."""

    fd: int
    limit: int
    data: bytearray = field(default_factory=bytearray)
    truncated: bool = False
    open: bool = True
    drain: bool = False


@dataclass
class Outcome:
    """How a unit ended, as seen from its pipes and the clock (its exit status comes
    from the template, which reaps it)."""

    timed_out: bool
    duration_ms: float
    stopped: str | None = None  # why a watch stopped the unit (e.g. the disk quota), if one did


class Watch(Protocol):
    """Something checked between polls that can stop a unit (see `usage.DiskWatch`,
    `meter.CpuWatch`): `check` says why it must stop (`TIME_UP`: as at its deadline)."""

    def check(self) -> str | None: ...
    def wait_seconds(self) -> float: ...


TIME_UP = "time up"


@dataclass
class Watches:
    """Several watches checked as one: the first objection stops the unit."""

    members: list[Watch]

    def check(self) -> str | None:
        for member in self.members:
            reason = member.check()
            if reason:
                return reason
        return None

    def wait_seconds(self) -> float:
        return min((m.wait_seconds() for m in self.members), default=3600.0)


def combine(*watches: Watch | None) -> Watch | None:
    present = [w for w in watches if w is not None]
    return None if not present else present[0] if len(present) == 1 else Watches(present)


def supervise(pid: int, captures: list[Capture], deadline: float, stop: Callable[[int | None], None],
              stdin: tuple[int, bytes] | None = None, until: Callable[[], bool] | None = None,
              watch: Watch | None = None, started: float | None = None) -> Outcome:
    """Collect a unit's output until it exits, `until()` says it is done, or the deadline
    passes; then `stop(pidfd)` kills it and everything it started.

    Args:
        until: called after each read; True ends the unit at once (a case's report is
            complete: its process need not be waited for).
        watch: checked between polls; when it objects the unit is stopped like at its deadline.
        started: when the unit was forked (its duration counts from then).
    """
    started = time.monotonic() if started is None else started
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        pidfd = None
    poller = select.poll()
    by_fd = {c.fd: c for c in captures}
    for capture in captures:
        os.set_blocking(capture.fd, False)
        poller.register(capture.fd, select.POLLIN)
    if pidfd is not None:
        poller.register(pidfd, select.POLLIN)
    pending_in = _start_stdin(poller, stdin)
    timed_out, exited, stopped = False, pidfd is None, None
    try:
        timed_out, exited, stopped, pending_in = _watch(poller, pidfd, by_fd, deadline, stdin, pending_in,
                                                         until, watch, keep_stdin=False)
    finally:
        duration_ms = (time.monotonic() - started) * 1000
        stop(pidfd)  # however the watching ended, nothing of the unit survives it
        for capture in captures:
            _drain(capture)
        if stdin is not None and pending_in is not None:
            _close_quietly(stdin[0])
        if pidfd is not None:
            os.close(pidfd)
    return Outcome(timed_out, duration_ms, stopped)


def _watch(poller: select.poll, pidfd: int | None, by_fd: dict[int, Capture], deadline: float,
           stdin: tuple[int, bytes] | None, pending_in: bytes | None, until: Callable[[], bool] | None,
           watch: Watch | None, keep_stdin: bool) -> tuple[bool, bool, str | None, bytes | None]:
    timed_out, exited, stopped = False, pidfd is None, None
    while not exited and not (until is not None and until()):
        left = deadline - time.monotonic()
        if left <= 0:
            timed_out = True
            break
        if watch is not None:
            stopped = watch.check()
            if stopped == TIME_UP:
                timed_out, stopped = True, None
                break
            if stopped:
                break
            left = min(left, watch.wait_seconds())
        for fd, _ in poller.poll(max(1, int(left * 1000))):
            if fd == pidfd:
                exited = True
            elif stdin is not None and fd == stdin[0]:
                pending_in = _feed_stdin(poller, stdin[0], pending_in, keep_stdin)
            elif fd in by_fd:
                _read_some(by_fd[fd])
                if not by_fd[fd].open:
                    poller.unregister(fd)
    return timed_out, exited, stopped, pending_in


def _read_some(capture: Capture) -> None:
    try:
        chunk = os.read(capture.fd, READ_CHUNK)
    except BlockingIOError:
        return
    except OSError:
        chunk = b""
    if not chunk:
        close(capture)
        return
    room = capture.limit - len(capture.data)
    capture.data += chunk[: max(room, 0)]
    if len(chunk) > room:
        capture.truncated = True
        if not capture.drain:  # the writer gets EPIPE/SIGPIPE instead of flooding us until its deadline
            close(capture)


def close(capture: Capture) -> None:
    if capture.open:
        capture.open = False
        os.close(capture.fd)


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


def _feed_stdin(poller: select.poll, fd: int, pending: bytes | None, keep_open: bool = False) -> bytes | None:
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
        if not keep_open:
            os.close(fd)
        return None
    return pending


def _close_quietly(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass


def _drain(capture: Capture) -> None:
    """Read what the dead unit left in the pipe; its writers are all killed by now."""
    end = time.monotonic() + 0.5
    while capture.open and time.monotonic() < end:
        ready, _, _ = select.select([capture.fd], [], [], 0.05)
        if ready:
            _read_some(capture)
    close(capture)


@dataclass
class Exchange:
    """How one case went with a unit that serves many (`serving`)."""

    timed_out: bool
    exited: bool
    stopped: str | None
    duration_ms: float
    unsent: bool = False  # the unit was gone before it could be sent the case


def exchange(pidfd: int, capture: Capture, stdin_fd: int, message: bytes, deadline: float,
             until: Callable[[], bool], watch: Watch | None, started: float) -> Exchange:
    """Send a case to a unit that serves cases one after another, and collect its report
    until `until()` says it is complete, the unit exits, a watch objects or the deadline
    passes. Nothing is stopped here: the caller decides whether the unit lives on. The
    case's pipe stays open for the next case (unless the unit closed it)."""
    try:
        message = message[os.write(stdin_fd, message):] if message else message
    except BlockingIOError:
        pass
    except OSError:  # EPIPE: nobody reads the pipe any more
        return Exchange(False, True, None, (time.monotonic() - started) * 1000, unsent=True)
    poller = select.poll()
    poller.register(capture.fd, select.POLLIN)
    poller.register(pidfd, select.POLLIN)
    if message:
        poller.register(stdin_fd, select.POLLOUT)
    timed_out, exited, stopped, _ = _watch(poller, pidfd, {capture.fd: capture}, deadline, (stdin_fd, message),
                                           message or None, until, watch, keep_stdin=True)
    duration_ms = (time.monotonic() - started) * 1000
    if exited and capture.open and not until():
        _drain(capture)  # what the unit wrote before it died
    return Exchange(timed_out, exited, stopped, duration_ms)
