"""The CPU the service spends per evaluated case, from outside, with ``--start``.

Per-case CPU = (CPU per ``eval10`` request - CPU per ``eval1`` request) / 9, over a fixed
number of sequential requests of each at c=1. The difference cancels what a request costs
whatever its size (HTTP, validation, the RPC, session binding), leaving what one more case
costs, which is what the bare fork (``bench/barefork.py``) is compared with. The same
pair of a 1-case and a 10-case scenario gives it for every kind of case: function cases
in each isolation (``eval1``/``eval10``, ``eval1_case``/``eval10_case``) and program
cases (``program1``/``program10``).

What is counted is the supervisor's process tree: the supervisor, the zygote, every
sandbox and whatever they start (the web tier is not included; it cancels out anyway).
Two sources, the first that this machine offers:

- ``cgroup``: the sandboxes' cgroup parent ``repl-sandbox/sup-<supervisor pid>``
  (``usage_usec`` of ``cpu.stat`` in cgroup v2, ``cpuacct.usage`` in a v1 hierarchy that
  has the ``cpuacct`` controller) plus the own CPU of the tree's processes outside it;
- ``rusage``: for every process of the tree, its own CPU plus that of its children it has
  waited for. The zygote reaps its sandboxes with ``wait4`` and each sandbox reaps what
  it started, so the CPU of every process that ended is in its parent's figure, and that
  of every live one in its own: nothing is counted twice or missed, provided the tree's
  processes are reaped inside the tree.

A process that ends between two readings is counted through the ancestor that reaped it
(``used_between``); one reaped outside the tree (its sandbox torn down around it) loses
what it used since the first reading instead of taking its whole life off the figure.

A cgroup v1 ``cpu`` hierarchy without ``cpuacct`` (this project's usual test machine)
has no usage counter, so ``rusage`` is used there; the report names the source. psutil
reads each process's CPU in clock ticks (10 ms), so a sample of ``rusage`` is off by a few
ms per live process; enough requests per batch make that small (see the README).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil

from bench.stats import RunResult

#: Seconds between two samples when waiting for the service to go quiet.
SETTLE_INTERVAL_S = 0.2

#: The service counts as quiet when it used less CPU than this between two samples.
SETTLE_CPU_S = 0.002

#: Longest wait for the service to go quiet (it refills its pool after a request).
SETTLE_TIMEOUT_S = 5.0

#: Name of the directory under which the supervisor makes the sandboxes' cgroups.
CGROUP_PARENT = "repl-sandbox"


def _tree(root: int) -> Iterator[psutil.Process]:
    """Yields the process ``root`` and all its descendants that still exist."""
    try:
        top = psutil.Process(root)
        yield top
        yield from top.children(recursive=True)
    except psutil.NoSuchProcess:
        return


def _mountpoints() -> dict[str, tuple[str, str]]:
    """Maps each cgroup v1 controller (and ``""`` for v2) to ``(mountpoint, root)``."""
    found: dict[str, tuple[str, str]] = {}
    with open("/proc/self/mountinfo", encoding="utf-8") as lines:
        for line in lines:
            left, _, right = line.partition(" - ")
            fields, tail = left.split(), right.split()
            if len(fields) < 5 or len(tail) < 3:
                continue
            if tail[0] == "cgroup2":
                found.setdefault("", (fields[4], fields[3]))
            elif tail[0] == "cgroup":
                for option in tail[2].split(","):
                    found.setdefault(option, (fields[4], fields[3]))
    return found


def _cgroup_dirs(pid: int) -> list[tuple[str, Path]]:
    """Returns ``(controller, directory)`` of each cgroup of ``pid`` (``""`` for v2)."""
    mounts = _mountpoints()
    dirs = []
    with open(f"/proc/{pid}/cgroup", encoding="utf-8") as lines:
        for line in lines:
            hierarchy, names, path = line.rstrip("\n").split(":", 2)
            for name in (names.split(",") if hierarchy != "0" else [""]):
                if name in mounts:
                    mountpoint, root = mounts[name]
                    if root != "/" and path.startswith(root):
                        path = path[len(root):]
                    dirs.append((name, Path(mountpoint + "/" + path.lstrip("/"))))
    return dirs


def cgroup_usage_reader(supervisor_pid: int) -> Callable[[], float] | None:
    """Returns a reader of the sandboxes' cgroup CPU (s), or ``None`` if there is none.

    Looks for ``repl-sandbox/sup-<pid>`` below the supervisor's own cgroup, for the pid of
    every process of its tree (the command may be a shell around the supervisor).
    """
    for process in _tree(supervisor_pid):
        try:
            dirs = _cgroup_dirs(process.pid)
        except OSError:
            continue
        for controller, own in dirs:
            parent = own / CGROUP_PARENT / f"sup-{process.pid}"
            if controller == "" and (parent / "cpu.stat").is_file():
                return functools.partial(_v2_usage, parent)
            if controller == "cpuacct" and (parent / "cpuacct.usage").is_file():
                return functools.partial(_v1_usage, parent)
    return None


def _v2_usage(parent: Path) -> float:
    """``usage_usec`` of a v2 ``cpu.stat``, in seconds."""
    for line in (parent / "cpu.stat").read_text().splitlines():
        key, _, value = line.partition(" ")
        if key == "usage_usec":
            return int(value) / 1e6
    raise ValueError(f"no usage_usec in {parent / 'cpu.stat'}")


def _v1_usage(parent: Path) -> float:
    """A v1 ``cpuacct.usage`` (ns), in seconds."""
    return int((parent / "cpuacct.usage").read_text()) / 1e9


def _in_sandbox_cgroup(pid: int) -> bool:
    """Whether ``pid`` sits in one of the sandboxes' cgroups (counted by the cgroup)."""
    try:
        with open(f"/proc/{pid}/cgroup", encoding="utf-8") as lines:
            return any(f"/{CGROUP_PARENT}/" in line for line in lines)
    except OSError:
        return False


@dataclass
class ServiceCpuMeter:
    """Reads the CPU the supervisor's process tree has used so far (see the module doc).

    Attributes:
        supervisor_pid: Root of the tree.
        source: ``cgroup`` or ``rusage``.
    """

    supervisor_pid: int
    source: str = "rusage"

    def __post_init__(self) -> None:
        self._cgroup = cgroup_usage_reader(self.supervisor_pid)
        self.source = "cgroup" if self._cgroup is not None else "rusage"

    def snapshot(self) -> Snapshot:
        """Reads the CPU of the cgroup (if any) and of every process of the tree."""
        cgroup = self._cgroup() if self._cgroup is not None else 0.0
        procs: dict[int, ProcCpu] = {}
        for process in _tree(self.supervisor_pid):
            try:
                times, parent = process.cpu_times(), process.ppid()
            except psutil.NoSuchProcess:
                continue
            if self._cgroup is None:
                procs[process.pid] = ProcCpu(parent, times.user + times.system,
                                             times.children_user + times.children_system)
            elif not _in_sandbox_cgroup(process.pid):
                procs[process.pid] = ProcCpu(parent, times.user + times.system, 0.0)
        return Snapshot(cgroup, procs)

    def sample(self) -> float:
        """Returns the tree's CPU seconds so far."""
        return self.snapshot().total

    def quiet_snapshot(self) -> Snapshot:
        """Reads once the service has stopped working (its pool refilled after a request).

        Without this, work a request caused but the service did after answering (forking
        the next sandbox, reaping the last) would land in the next measurement or in none.
        """
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        last = self.snapshot()
        while time.monotonic() < deadline:
            time.sleep(SETTLE_INTERVAL_S)
            now = self.snapshot()
            if used_between(last, now) < SETTLE_CPU_S:
                return now
            last = now
        return last


@dataclass(frozen=True)
class ProcCpu:
    """One process's CPU seconds as read at one moment.

    Attributes:
        parent: Its parent's pid.
        own: Its own user and system CPU.
        reaped: That of the children it has waited for.
    """

    parent: int
    own: float
    reaped: float

    @property
    def total(self) -> float:
        """Its CPU and that of everything it has reaped."""
        return self.own + self.reaped


@dataclass(frozen=True)
class Snapshot:
    """The service's CPU at one moment: its sandboxes' cgroup (0 without one) and every
    process of its tree read alone (without the cgroup: all of them)."""

    cgroup: float
    procs: dict[int, ProcCpu]

    @property
    def total(self) -> float:
        """Every CPU second the snapshot accounts for."""
        return self.cgroup + sum(proc.total for proc in self.procs.values())


def used_between(before: Snapshot, after: Snapshot) -> float:
    """The CPU seconds the tree used between two snapshots.

    A process alive at both counts what it used in between, itself and in the children it
    reaped; one born in between counts all of it. One that ended in between is in the
    reaped CPU of its parent (or, if that ended too, of the nearest ancestor still alive),
    whole: what it had used before the first snapshot is taken off again, but never more
    than that ancestor's reaped CPU grew by. A process reaped outside the tree (an orphan
    whose sandbox went) thus takes away nothing, where a plain difference of the totals
    would subtract its whole life.
    """
    used = after.cgroup - before.cgroup
    for pid, proc in after.procs.items():
        earlier = before.procs.get(pid)
        used += proc.total - (earlier.total if earlier is not None else 0.0)
    owed: dict[int, float] = {}
    for pid, proc in before.procs.items():
        if pid in after.procs:
            continue
        ancestor = proc.parent
        while ancestor in before.procs and ancestor not in after.procs:
            ancestor = before.procs[ancestor].parent
        if ancestor in after.procs:
            owed[ancestor] = owed.get(ancestor, 0.0) + proc.total
    for ancestor, amount in owed.items():
        earlier = before.procs.get(ancestor)
        grown = after.procs[ancestor].reaped - (earlier.reaped if earlier is not None else 0.0)
        used -= min(amount, max(grown, 0.0))
    return used


@dataclass(frozen=True)
class CpuPair:
    """Two scenarios that differ only in their number of cases.

    Attributes:
        few: The scenario with fewer cases (``eval1``).
        many: The scenario with more cases (``eval10``).
        few_cases: Cases per request of ``few``.
        many_cases: Cases per request of ``many``.
    """

    few: str = "eval1"
    many: str = "eval10"
    few_cases: int = 1
    many_cases: int = 10

    def __post_init__(self) -> None:
        if self.many_cases <= self.few_cases:
            raise ValueError(f"{self.many} must have more cases than {self.few}")


@dataclass(frozen=True)
class CaseCpu:
    """The service's per-case CPU and what it was computed from.

    Attributes:
        source: ``cgroup`` or ``rusage`` (see the module docstring).
        requests: Sequential requests of each scenario of the pair.
        few_ms: CPU per request of the pair's ``few`` scenario (``eval1``), ms.
        many_ms: CPU per request of its ``many`` scenario (``eval10``), ms.
        per_case_ms: ``(many_ms - few_ms) / (many_cases - few_cases)``.
        runs: The two measured runs (their errors void the figure).
    """

    source: str
    requests: int
    few_ms: float
    many_ms: float
    per_case_ms: float
    runs: tuple[RunResult, RunResult]

    @property
    def errors(self) -> int:
        """Failed requests in the runs the figure comes from."""
        return sum(run.errors for run in self.runs)


def measure_case_cpu(
    meter: ServiceCpuMeter, run_requests: Callable[[str, int], RunResult], requests: int,
    pair: CpuPair = CpuPair(),
) -> CaseCpu:
    """Measures the CPU of ``requests`` sequential requests of each scenario of ``pair``.

    Args:
        meter: Reads the service's CPU.
        run_requests: Runs a scenario (``eval1``, ``eval10``...) for exactly that many
            requests at c=1 without warm-up and returns the run.
        requests: Requests of each.
        pair: The two scenarios (default ``eval1`` and ``eval10``).
    """
    per_request: list[float] = []
    runs: list[RunResult] = []
    for name in (pair.few, pair.many):
        before = meter.quiet_snapshot()
        run = run_requests(name, requests)
        used = used_between(before, meter.quiet_snapshot())
        runs.append(run)
        per_request.append(used / max(run.ok + run.errors, 1) * 1000.0)
    few_ms, many_ms = per_request
    per_case = (many_ms - few_ms) / (pair.many_cases - pair.few_cases)
    return CaseCpu(meter.source, requests, few_ms, many_ms, per_case, (runs[0], runs[1]))
