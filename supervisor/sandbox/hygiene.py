"""Runs in: the init.

What must not carry over from one execution to the next inside a reused sandbox.

A sandbox (its pid, mount, network, IPC and UTS namespaces, its init and its template)
serves many executions one after another, because making and tearing down namespaces
costs more than the executions themselves. Between two executions (two cases of one
request, or two requests) the init restores the state a fresh sandbox would have:

* processes: every process but the init and the templates is killed, and waited for
  until none is left running (`kill_others`);
* files: /tmp and /dev/shm are new, empty tmpfs mounts (`confine.refresh_scratch`);
* System V IPC: every shared memory segment, message queue and semaphore set of the
  sandbox's IPC namespace is removed; POSIX message queues cannot be made at all
  (`queues_max` is 0 in the namespace, which binds every unprivileged process);
* process ids: the pid namespace's counter is set back, so the next execution's pids
  are the same as after a fresh start and cannot tell how many processes ran before;
* sockets: they die with their processes. The network namespace has only a loopback
  interface that is down, which unprivileged code cannot bring up, so no connection
  state (TIME_WAIT) can outlive them.

Some counters of the namespaces move with what a job does and have no way back: the
network statistics (`/proc/net/snmp`, `netstat`, `snmp6`: a send with no route counts in
`OutNoRoutes`) and the System V IPC id allocators (a new object's id counts the objects
made before it). `Counters` notices a job that moved one, and the init then retires the
sandbox, so the next job gets fresh namespaces; the common job moves none and pays two
reads of /proc per job (`bench`).

The session's files are the one thing that persists, by design.
"""

from __future__ import annotations

import os
import select
import signal
import time

from supervisor.sandbox import confine, libc

KILL_PATIENCE = 5.0  # seconds to wait for killed processes; past it the sandbox is retired
SYSV_KINDS = ("shm", "msg", "sem")


class Unclean(Exception):
    """The sandbox could not be brought back to a fresh state: it must not be reused."""


def seal_ipc() -> None:
    """Allow no POSIX message queue in this IPC namespace (they outlive their makers)."""
    with open("/proc/sys/fs/mqueue/queues_max", "w") as f:
        f.write("0")


def kill_others(protect: frozenset[int], exiting: int | None = None) -> set[int]:
    """SIGKILL every process of the pid namespace but this init and `protect`, until none
    is left but zombies; return the pids this init reaped meanwhile (orphans, or a
    protected child that died). `exiting`: a pidfd of the unit, which has most likely
    finished on its own and is exiting: waiting on it is cheaper than polling /proc.

    Raises:
        Unclean: a process was still running after KILL_PATIENCE seconds.
    """
    me = os.getpid()
    reaped: set[int] = set()
    deadline = time.monotonic() + KILL_PATIENCE
    while True:
        others = [pid for pid in _pids() if pid != me and pid not in protect]
        for pid in others:  # every one, whatever /proc says: a zombie ignores it harmlessly
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        running = [pid for pid in others if _running(pid)]
        reaped |= reap_orphans()
        if not running:
            return reaped
        if time.monotonic() > deadline:
            raise Unclean(f"{len(running)} processes survived SIGKILL for {KILL_PATIENCE} s")
        if exiting is not None:
            select.select([exiting], [], [], KILL_PATIENCE)
            exiting = None
        else:
            time.sleep(0.0002)


def kill_one(pid: int) -> None:
    """SIGKILL one process and wait until it has exited, every thread of it (its children,
    if it had any, are this init's then, and a later reading of the tree finds them).

    Raises:
        Unclean: it was still running after KILL_PATIENCE seconds.
    """
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        if not select.select([pidfd], [], [], KILL_PATIENCE)[0]:
            raise Unclean(f"a process survived SIGKILL for {KILL_PATIENCE} s")
    except ProcessLookupError:
        pass
    finally:
        os.close(pidfd)


class _Reaped:
    """What the orphans this init reaped used, since it was last taken: processes a unit
    started and left behind (its parent died first) are the init's to reap, so their CPU
    time is known only here (`take_orphan_usage`)."""

    cpu_seconds = 0.0
    maxrss_kb = 0


def reap_orphans() -> set[int]:
    """Collect this init's dead children without waiting, adding up what they used."""
    reaped: set[int] = set()
    while True:
        try:
            pid, _, usage = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            return reaped
        if pid == 0:
            return reaped
        reaped.add(pid)
        _Reaped.cpu_seconds += usage.ru_utime + usage.ru_stime
        _Reaped.maxrss_kb = max(_Reaped.maxrss_kb, usage.ru_maxrss)


def take_orphan_usage() -> tuple[float, int]:
    """The CPU seconds and the largest peak memory (KiB) of the orphans reaped since the
    last call."""
    taken = (_Reaped.cpu_seconds, _Reaped.maxrss_kb)
    _Reaped.cpu_seconds, _Reaped.maxrss_kb = 0.0, 0
    return taken


def _pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def _running(pid: int) -> bool:
    """Whether any thread of `pid` still runs. A process whose main thread has exited is
    a zombie to /proc/<pid>/stat while its other threads go on, so every task counts."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return False
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        if stat[stat.rfind(b")") + 2:][:1] not in (b"Z", b"X", b""):
            return True
    return False


def remove_sysv_ipc() -> None:
    for kind in SYSV_KINDS:
        try:
            with open(f"/proc/sysvipc/{kind}") as f:
                lines = f.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 1:
                try:
                    libc.ipc_remove(kind, int(fields[1]))
                except OSError:
                    pass  # already gone


def reset_pid_counter(last: int) -> None:
    """The next process forked in this pid namespace gets pid `last + 1`."""
    with open("/proc/sys/kernel/ns_last_pid", "w") as f:
        f.write(str(last))


class Counters:
    """The counters of a fresh sandbox's namespaces that a job can move and nothing can set
    back (see the module docstring), taken when the sandbox is new.

    The network statistics are compared with their first reading. For IPC ids, each kind's
    `next_id` (a Checkpoint/Restore sysctl: the id the next object gets, -1 once one is
    made) is set to 0 now: the first object a job makes then gets the id a fresh namespace
    gives, and -1 there afterwards says an object was made. Without those sysctls (a kernel
    without CONFIG_CHECKPOINT_RESTORE) IPC ids are not watched.
    """

    STATISTICS = ("/proc/net/snmp", "/proc/net/netstat", "/proc/net/snmp6")
    NEXT_IDS = ("/proc/sys/kernel/shm_next_id", "/proc/sys/kernel/msg_next_id", "/proc/sys/kernel/sem_next_id")

    def __init__(self) -> None:
        self.next_ids: list[str] = []
        for path in self.NEXT_IDS:
            try:
                _write(path, b"0")
            except OSError:
                continue
            self.next_ids.append(path)
        self.statistics = {path: _read(path) for path in self.STATISTICS if os.path.exists(path)}

    def moved(self) -> str | None:
        """What a job moved since the sandbox was new, or None."""
        for path in self.next_ids:
            if _read(path).strip() != b"0":
                return f"a System V IPC object was made ({path} moved)"
        for path, fresh in self.statistics.items():
            if _read(path) != fresh:
                return f"the network statistics moved ({path})"
        return None


def _read(path: str) -> bytes:
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.read(fd, 1 << 16)
    finally:
        os.close(fd)


def _write(path: str, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


class Scratch:
    """/tmp and /dev/shm, replaced by new mounts unless no execution touched them.

    A tmpfs that still holds only its root directory, whose times have not changed since
    it was mounted, is exactly as a new one would be (creating and removing a file
    changes the directory's times), so it is kept: a mount and an unmount saved per case.
    """

    TARGETS = ("/tmp", "/dev/shm")

    def __init__(self, tmp_size_mb: int) -> None:
        self.tmp_size_mb = tmp_size_mb
        self.marks: dict[str, tuple[int, int, int]] | None = None

    def refresh(self) -> None:
        if self.marks is not None and all(_mark(t) == self.marks[t] for t in self.TARGETS):
            return
        confine.refresh_scratch(self.tmp_size_mb)
        self.marks = {t: _mark(t) for t in self.TARGETS}


def _mark(path: str) -> tuple[int, int, int]:
    stat, fs = os.stat(path), os.statvfs(path)
    return (stat.st_mtime_ns, stat.st_ctime_ns, fs.f_files - fs.f_ffree)


def reset(scratch: Scratch, protect: frozenset[int], killed: bool = False) -> set[int]:
    """Everything of the module docstring, in order; returns the pids reaped on the way.
    `killed`: `kill_others` has just run (a unit's end), and nothing can have started
    since, as only the templates fork and they fork on request only.

    Raises:
        Unclean: see `kill_others`.
    """
    reaped = reap_orphans() if killed else kill_others(protect)
    remove_sysv_ipc()
    scratch.refresh()
    reset_pid_counter(max(protect, default=1))
    return reaped
