"""Run one unit of user code in a fresh unprivileged process, under a deadline.

A unit is one evaluation case or one `/run` command. The sandbox's init forks a worker,
the worker drops its privileges and runs the unit; the init collects its output through
pipes (capped while read, never buffered whole), enforces the wall-clock deadline, and
afterwards kills every process the unit left behind.
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import signal
import time
from dataclasses import dataclass, field

from supervisor.sandbox import confine, worker

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
    stopped: str | None = None  # why a watch stopped the unit (e.g. the disk quota), if one did


@dataclass(frozen=True)
class Identity:
    """What a worker becomes before it waits for its unit."""

    uid: int | None  # None: do not change uid (insecure mode, not root)
    cap_last: int
    ceiling: confine.Limits  # the largest limits any job may ask for; the unit lowers them
    whole_namespace: bool  # True: kill(-1) cleans up; False: only the worker's group
    environment: dict[str, str]


@dataclass
class Worker:
    """A forked worker, already unprivileged, waiting on `go` for its unit."""

    pid: int
    go: int      # write end: the unit, as JSON, then closed
    result: int  # read end: a case's result
    stdin: int   # write end of the worker's fd 0
    stdout: int  # read end of the worker's fd 1
    stderr: int  # read end of the worker's fd 2


def prepare(identity: Identity, warm_up: bool = True) -> Worker:
    """Fork a worker and have it drop its privileges, ahead of any job.

    Forking and confining take a few milliseconds; done before the job arrives, they are
    off the request's critical path. `warm_up` is for such a worker only: one forked on
    demand would do the warm-up on the critical path, as pure overhead. Every descriptor but its pipes is closed in the
    worker: user code must not inherit the init's socket to the supervisor (it could
    forge reports) or anything else of ours.
    """
    go_r, go_w = os.pipe()
    result_r, result_w = os.pipe()
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            if not identity.whole_namespace:
                os.setsid()
            for target, source in enumerate((in_r, out_w, err_w)):
                os.dup2(source, target)
            go, result = _keep_only(go_r, result_w)
            if identity.uid is not None:
                confine.drop_privileges(identity.uid, identity.ceiling, identity.cap_last)
            else:
                confine.set_limits(identity.ceiling)
        except BaseException:  # noqa: BLE001 - never run user code half-confined
            os._exit(worker.EXIT_BROKEN)
        worker.main(go, result, identity.environment, warm_up)
    for fd in (go_r, result_w, in_r, out_w, err_w):
        os.close(fd)
    return Worker(pid, go_w, result_r, in_w, out_r, err_r)


def _keep_only(go: int, result: int) -> tuple[int, int]:
    """Close every descriptor above stdio but the two pipes, moved to 3 and 4."""
    high_go = fcntl.fcntl(go, fcntl.F_DUPFD, 100)  # out of the way of 3 and 4
    high_result = fcntl.fcntl(result, fcntl.F_DUPFD, 100)
    os.dup2(high_go, 3)
    os.dup2(high_result, 4)
    os.closerange(5, MAX_FD)
    return 3, 4


def start(unit_worker: Worker, unit: dict[str, object]) -> None:
    """Hand the worker its unit; it starts running user code at once."""
    data = json.dumps(unit, separators=(",", ":"), ensure_ascii=False).encode()
    view = memoryview(data)
    while view:
        view = view[os.write(unit_worker.go, view):]
    os.close(unit_worker.go)


def abandon(unit_worker: Worker) -> None:
    """Release a worker that will not be used (it exits when its `go` pipe closes)."""
    for fd in (unit_worker.go, unit_worker.result, unit_worker.stdin, unit_worker.stdout, unit_worker.stderr):
        _close_quietly(fd)


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


def supervise(pid: int, whole_namespace: bool, captures: list[Capture], deadline: float,
              stdin: tuple[int, bytes] | None = None, finish_on_result: bool = False,
              reap: bool = True, watch: confine.DiskWatch | None = None) -> Outcome:
    """Collect a worker's output until it exits or the deadline passes, then kill what is left.

    Args:
        finish_on_result: the unit is over as soon as its captures are closed with data in
            them (a case wrote its result and closed the pipe): do not wait for the worker's
            exit, which for a forked interpreter costs milliseconds of teardown.
        reap: wait for every killed process to be gone. Without namespaces this is needed
            before the next unit; inside its pid namespace a killed process can no longer run
            user code, so the next unit need not wait for its teardown (`reap_finished`
            collects it later, and the sandbox's own exit takes whatever is left).
        watch: checked between polls; when it objects the unit is stopped like at its deadline.
    """
    started = time.monotonic()
    pidfd = os.pidfd_open(pid)
    poller = select.poll()
    by_fd = {c.fd: c for c in captures}
    for capture in captures:
        os.set_blocking(capture.fd, False)
        poller.register(capture.fd, select.POLLIN)
    poller.register(pidfd, select.POLLIN)
    pending_in = _start_stdin(poller, stdin)
    timed_out = exited = False
    stopped = None
    while not exited and not (finish_on_result and _complete(captures)):
        left = deadline - time.monotonic()
        if left <= 0:
            timed_out = True
            break
        if watch is not None:
            stopped = watch.check()
            if stopped:
                break
            left = min(left, watch.wait_seconds())
        for fd, _ in poller.poll(max(1, int(left * 1000))):
            if fd == pidfd:
                exited = True
            elif stdin is not None and fd == stdin[0]:
                pending_in = _feed_stdin(poller, stdin[0], pending_in)
            elif fd in by_fd:
                _read_some(by_fd[fd])
                if not by_fd[fd].open:
                    poller.unregister(fd)
    duration_ms = (time.monotonic() - started) * 1000
    kill_all(pid, whole_namespace)
    status, rusage = _reap(pid) if reap or exited or timed_out else (None, None)
    for capture in captures:
        _drain(capture)
    if stdin is not None and pending_in is not None:
        _close_quietly(stdin[0])
    os.close(pidfd)
    return Outcome(status, rusage, timed_out, duration_ms, captures, stopped)


def _complete(captures: list[Capture]) -> bool:
    return all(not c.open for c in captures) and any(c.data for c in captures)


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


def reap_finished() -> None:
    """Collect the processes of earlier units that have finished dying, without waiting."""
    while True:
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                return
        except ChildProcessError:
            return


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
