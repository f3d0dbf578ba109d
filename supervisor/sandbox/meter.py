"""Runs in: the init.

What a case's process uses, read from /proc while it runs: CPU time, threads, memory.

A unit that serves many cases (`isolation: "request"`) outlives each of them, so its
exit status and rusage, which the template reports when it is reaped, cannot say what
one case used. The init reads it instead, before and after each case, from files the
process cannot change: `/proc/<pid>/schedstat` (the CPU time of its main thread, in
nanoseconds), `/proc/<pid>/stat` (the CPU time of all its threads, dead ones included,
and of its reaped children, in clock ticks), and `/proc/<pid>/status` (threads, peak and
current memory; the peak is reset before each case through `/proc/<pid>/clear_refs`).

Which processes are the case's is read from the process tree (`case_group`): the unit and
what it started, found through the `children` files of the unit, of the template (a
`clone(CLONE_PARENT)` makes a sibling of the unit) and of this init (a process the case
double-forked is reparented here). Anything found beyond what a case normally has (the unit,
and in `isolation: "case"` its fork) means the case left something behind, and the whole
pid namespace is then read instead (`group`), as it is when a `children` file cannot be.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from supervisor.sandbox import watch

TICK = 1.0 / os.sysconf("SC_CLK_TCK")
COARSE_SLACK = 2 * TICK  # a coarse reading past the fine one by more than this counts


@dataclass(frozen=True)
class Sample:
    """CPU seconds of a process: `fine` (its main thread, to the nanosecond) and `coarse`
    (all its threads, dead ones included, and its reaped children, to the tick)."""

    fine: float
    coarse: float

    def since(self, before: Sample) -> float:
        """The CPU time used between two samples: the fine reading, unless the coarse one
        shows more than its resolution can explain (threads or children did work)."""
        fine, coarse = self.fine - before.fine, self.coarse - before.coarse
        return coarse if coarse > fine + COARSE_SLACK else max(fine, 0.0)


ZERO = Sample(0.0, 0.0)


def _read(path: str) -> bytes:
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.read(fd, 4096)
    finally:
        os.close(fd)


def cpu(pid: int) -> Sample | None:
    """The process's CPU time so far, or None once it is gone."""
    try:
        fine = int(_read(f"/proc/{pid}/schedstat").split()[0]) / 1e9
        stat = _read(f"/proc/{pid}/stat")
    except (OSError, ValueError, IndexError):
        return None
    fields = stat[stat.rfind(b")") + 2:].split()
    # utime, stime, cutime, cstime: fields 14-17 of stat(5), 11-14 after the state
    ticks = sum(int(value) for value in fields[11:15])
    return Sample(fine, ticks * TICK)


@dataclass(frozen=True)
class Status:
    threads: int
    peak_kb: int      # VmHWM: the peak resident memory since the last `reset_peak`
    size_kb: int      # VmSize: the address space RLIMIT_AS counts


def status(pid: int) -> Status | None:
    try:
        text = _read(f"/proc/{pid}/status")
    except OSError:
        return None
    found: dict[bytes, int] = {}
    for line in text.splitlines():
        key, _, value = line.partition(b":")
        if key in (b"Threads", b"VmHWM", b"VmSize"):
            found[key] = int(value.split()[0])
    return Status(found.get(b"Threads", 0), found.get(b"VmHWM", 0), found.get(b"VmSize", 0))


def reset_peak(pid: int) -> None:
    """Start the peak resident memory (VmHWM) over from the current resident memory."""
    try:
        fd = os.open(f"/proc/{pid}/clear_refs", os.O_WRONLY)
    except OSError:
        return  # without the privilege (insecure mode) the peak stays the process's own
    try:
        os.write(fd, b"5")
    except OSError:
        pass
    finally:
        os.close(fd)


@dataclass(frozen=True)
class Group:
    """The processes of a case as one: every process of the sandbox but the protected ones
    (the init, the templates, the spare), read at one moment. `walked`: read from the
    process tree (`case_group`), the unit first and each process before its children."""

    pids: tuple[int, ...]
    cpu: Sample
    peak_kb: int
    walked: bool = False

    @property
    def total(self) -> float:
        return self.cpu.coarse if self.cpu.coarse > self.cpu.fine + COARSE_SLACK else self.cpu.fine


def group(protect: frozenset[int], only: int | None = None) -> Group:
    """Read every unprotected process of this pid namespace (the init's view); or, with
    `only` (no namespace of the sandbox's own: insecure mode, where /proc is the host's),
    that process alone, its reaped children counted."""
    me = os.getpid()
    pids: list[int] = []
    fine = coarse = 0.0
    peak = 0
    names = [str(only)] if only is not None else os.listdir("/proc")
    for name in names:
        if not name.isdigit():
            continue
        pid = int(name)
        if pid == me or pid in protect:
            continue
        sample = cpu(pid)
        if sample is None:
            continue
        pids.append(pid)
        fine += sample.fine
        coarse += sample.coarse
        state = status(pid)
        if state is not None:
            peak = max(peak, state.peak_kb)
    return Group(tuple(pids), Sample(fine, coarse), peak)


def children(pid: int) -> list[int]:
    """The live children of a single-threaded process (those its main thread forked, and
    the orphans reparented to it when it is this init).

    Raises:
        OSError: the process is gone, or the kernel has no `children` files.
    """
    return [int(child) for child in _read(f"/proc/{pid}/task/{pid}/children").split()]


def case_group(protect: frozenset[int], unit: int, template: int, most: int) -> Group:
    """What `group(protect)` reads, found from the process tree instead of a listing of
    /proc: `unit` and its descendants, as long as they are at most `most` processes of one
    thread each, and this init and `template` have no child but the protected ones and the
    unit. Otherwise, or if a process went away meanwhile, `group(protect)` itself.

    Every process of the pid namespace descends from this init; its children are the
    templates and the orphans, a template's its units and their `CLONE_PARENT` siblings.
    A file of up to 4096 bytes holds every pid `most` allows, and a longer one falls back.
    """
    try:
        if not set(children(os.getpid())) <= protect or not set(children(template)) <= protect | {unit}:
            return group(protect)
    except (OSError, ValueError):
        return group(protect)
    pids: list[int] = []
    fine = coarse = 0.0
    peak = 0
    waiting = [unit]
    while waiting:
        pid = waiting.pop(0)
        state = status(pid)
        sample = cpu(pid)
        if state is None or sample is None or state.threads != 1:
            return group(protect)  # gone meanwhile, or its threads may have children of their own
        try:
            waiting.extend(children(pid))
        except (OSError, ValueError):
            return group(protect)
        pids.append(pid)
        if len(pids) + len(waiting) > most:
            return group(protect)
        fine += sample.fine
        coarse += sample.coarse
        peak = max(peak, state.peak_kb)
    return Group(tuple(pids), Sample(fine, coarse), peak, walked=True)


class CpuWatch:
    """Stops a case whose processes have used more CPU than its limit, checked from
    outside while they run (`watch.Watch`): a case's own RLIMIT_CPU is set by the process
    that runs it, which user code can raise up to its hard limit, so it is not the bound.

    A process uses at most one CPU second per second and core, so /proc is read only
    when the limit could have been reached since the last reading: never, for a case
    that ends sooner than its limit divided by the cores.
    """

    def __init__(self, protect: frozenset[int], before: Sample, limit: float, started: float,
                 only: int | None = None) -> None:
        self.protect = protect
        self.only = only
        self.before = before
        self.limit = limit
        self.cores = max(len(os.sched_getaffinity(0)), 1)
        self.next_check = started + limit / self.cores

    def check(self) -> str | None:
        now = time.monotonic()
        if now < self.next_check:
            return None
        used = group(self.protect, self.only).cpu.since(self.before)
        if used > self.limit:
            return watch.TIME_UP
        self.next_check = now + max((self.limit - used) / self.cores, MIN_INTERVAL)
        return None

    def wait_seconds(self) -> float:
        return max(self.next_check - time.monotonic(), 0.0)


MIN_INTERVAL = 0.005
