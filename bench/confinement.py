"""What confinement costs per execution, measured against a bare fork in the same run.

    sudo python3 bench/confinement.py [--iterations N]

Runs the sandbox's own code paths (supervisor/sandbox/confine.py, seccomp.py,
supervisor/cgroups.py) in a process set up like the zygote (a private mount namespace
whose root is the read-only sandbox image), and times each step against the plain
operation it adds to. Prints a table of medians and 90th percentiles, then which of the
costs sit on a request's critical path and which are paid ahead, while a sandbox waits
in the pool. Needs root (the steps it measures do); prints why and exits 2 otherwise.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import random
import resource
import shutil
import signal
import statistics
import sys
import tempfile
import time
import traceback
from collections.abc import Callable

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from supervisor import cgroups
from supervisor.sandbox import confine, libc, seccomp
from supervisor.sandbox.usage import DiskWatch

SANDBOX_UID = 60000
LIMITS = confine.Limits(cpu_seconds=31, memory_bytes=2048 << 20, max_processes=4096,
                        max_file_bytes=1 << 30, max_open_files=256)


def _time_child(child: Callable[[], None], before_fork: Callable[[], None] | None = None,
                after_fork: Callable[[], None] | None = None) -> float:
    """Seconds from just before a fork to the reaped exit of a child running `child`."""
    started = time.perf_counter()
    if before_fork:
        before_fork()
    pid = os.fork()
    if pid == 0:
        try:
            child()
        finally:
            os._exit(0)
    if after_fork:
        after_fork()
    os.waitpid(pid, 0)
    return time.perf_counter() - started


def _time_inside(child: Callable[[], float], before_fork: Callable[[], None] | None = None,
                 after_fork: Callable[[], None] | None = None) -> float:
    """Seconds a child reports for a step it times itself (sent through a pipe)."""
    read_end, write_end = os.pipe()
    if before_fork:
        before_fork()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read_end)
            os.write(write_end, repr(child()).encode())
        finally:
            os._exit(0)
    if after_fork:
        after_fork()
    os.close(write_end)
    data = os.read(read_end, 64)
    os.close(read_end)
    os.waitpid(pid, 0)
    return float(data)


class Measurements:
    """Steps to time; `report` samples them round-robin in a shuffled order, so that
    whatever else the machine is doing (including the kernel's deferred teardown of the
    previous step's namespaces, which slows a following cgroup migration) weighs on every
    step alike and their differences stay meaningful."""

    def __init__(self, iterations: int) -> None:
        self.iterations = iterations
        self.steps: list[tuple[str, Callable[[], float], str]] = []
        self.rows: list[tuple[str, list[float], str]] = []

    def add(self, name: str, measure: Callable[[], float], where: str) -> None:
        self.steps.append((name, measure, where))

    def report(self) -> dict[str, dict[str, float | str]]:
        samples: dict[str, list[float]] = {name: [] for name, _, _ in self.steps}
        for _, measure, _ in self.steps:
            measure()  # warm up
        shuffler = random.Random(1)
        order = list(self.steps)
        for _ in range(self.iterations):
            shuffler.shuffle(order)
            for name, measure, _ in order:
                samples[name].append(measure())
        self.rows = [(name, samples[name], where) for name, _, where in self.steps]
        return {name: {"median_ms": statistics.median(s) * 1000,
                       "p90_ms": sorted(s)[int(len(s) * 0.9) - 1] * 1000, "where": where}
                for name, s, where in self.rows}


def measure_all(iterations: int, session: str, pidns: int, cgroup_fds: list[int],
                cap_last: int) -> dict[str, dict[str, float | str]]:
    """Runs in the zygote-like process (private mount namespace, sandbox image as root)."""
    m = Measurements(iterations)
    getppid = ctypes.CDLL(None).getppid  # the libc call: a real system call each time

    def new_pidns() -> None:
        libc.unshare(libc.CLONE_NEWPID)

    def back_to_ours() -> None:
        libc.setns(pidns, libc.CLONE_NEWPID)

    def join_cgroups() -> None:
        for fd in cgroup_fds:
            os.write(fd, b"0")

    def sandbox_init() -> None:
        confine.contain(confine.SANDBOX_STEPS, _target(cap_last))

    def joined_sandbox_init() -> None:
        join_cgroups()
        sandbox_init()

    m.add("bare fork + exit + wait", lambda: _time_child(lambda: None), "reference")
    m.add("sandbox: new pid ns + fork + exit", lambda: _time_child(lambda: None, new_pidns, back_to_ours),
          "pre-forked")
    m.add("sandbox: + mount/net/ipc/uts ns, /proc, /tmp", lambda: _time_child(sandbox_init, new_pidns, back_to_ours),
          "pre-forked")
    if cgroup_fds:
        m.add("sandbox: + join its slot cgroups",
              lambda: _time_child(joined_sandbox_init, new_pidns, back_to_ours), "pre-forked")
    if cgroup_fds:
        def join_timed() -> float:
            started = time.perf_counter()
            join_cgroups()
            return time.perf_counter() - started

        m.add("joining the slot cgroups alone", lambda: _time_inside(join_timed, new_pidns, back_to_ours),
              "inside the above")
    m.add("unit: fork + rlimits, no-new-privs, caps, uid + exit",
          lambda: _time_child(lambda: confine.contain(confine.PROCESS_STEPS[:-1], _target(cap_last))),
          "pre-forked (1st case), critical (later cases)")
    m.add("unit: fork + drop_privileges incl. seccomp + exit",
          lambda: _time_child(lambda: confine.drop_privileges(SANDBOX_UID, LIMITS, cap_last)),
          "pre-forked (1st case), critical (later cases)")
    m.add("seccomp.install alone", lambda: _time_inside(_install_timed), "inside the above")

    m.add("job: bind the session + disk-watch baseline",
          lambda: _time_inside(lambda: _bind_timed(session), new_pidns, back_to_ours), "critical path")

    def syscalls(filtered: bool) -> float:
        def run() -> float:
            if filtered:
                libc.prctl(libc.PR_SET_NO_NEW_PRIVS, 1)
                seccomp.install()
            started = time.perf_counter()
            for _ in range(20_000):
                getppid()
            return (time.perf_counter() - started) / 20_000
        return _time_inside(run)

    m.add("getppid() via ctypes, per call, no filter", lambda: syscalls(False), "reference")
    m.add("getppid() via ctypes, per call, seccomp filter", lambda: syscalls(True), "every syscall of user code")
    return m.report()


def _install_timed() -> float:
    libc.prctl(libc.PR_SET_NO_NEW_PRIVS, 1)
    started = time.perf_counter()
    seccomp.install()
    return time.perf_counter() - started


def _target(cap_last: int) -> confine.Target:
    return confine.Target(uid=SANDBOX_UID, limits=LIMITS, cap_last=cap_last)


def _bind_timed(session: str) -> float:
    confine.contain(confine.SANDBOX_STEPS, _target(confine.read_cap_last()))
    started = time.perf_counter()
    confine.bind_session(session, 64)
    watch = DiskWatch(confine.WORKDIR, 1 << 30)
    elapsed = time.perf_counter() - started
    watch.close()
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=200, help="samples per figure (default 200)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON instead of a table")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench/confinement.py: needs root (namespaces, mounts, the uid change, cgroups)", file=sys.stderr)
        return 2
    session_root = tempfile.mkdtemp(prefix="repl-bench-confine-")
    try:
        groups = cgroups.setup(1, LIMITS.max_processes, 4 << 30)
        procs, limits_mode = groups.procs[0], groups.mode
    except cgroups.Unavailable as exc:
        procs, limits_mode = [], f"rlimits ({exc})"
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read_end)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            session = os.path.basename(tempfile.mkdtemp(dir=session_root))
            pidns = os.open("/proc/self/ns/pid", os.O_RDONLY)
            cgroup_fds = [os.open(p, os.O_WRONLY) for p in procs]
            cap_last = confine.read_cap_last()
            confine.build_root(session_root)  # as the zygote: the sandbox image becomes our root
            figures = measure_all(args.iterations, session, pidns, cgroup_fds, cap_last)
            os.write(write_end, json.dumps(figures).encode())
        except BaseException:  # noqa: BLE001 - reported, then the parent says the run failed
            traceback.print_exc()
        finally:
            os._exit(0)
    os.close(write_end)
    data = b""
    while chunk := os.read(read_end, 1 << 16):
        data += chunk
    os.waitpid(pid, 0)
    shutil.rmtree(session_root, ignore_errors=True)
    if not data:
        print("bench/confinement.py: the measuring process failed", file=sys.stderr)
        return 1
    figures = json.loads(data)
    if args.json:
        print(json.dumps({"limits_mode": limits_mode, "figures": figures}, indent=2))
        return 0
    _print_table(figures, limits_mode, args.iterations)
    return 0


def _print_table(figures: dict[str, dict[str, float | str]], limits_mode: str, iterations: int) -> None:
    arch = seccomp.current_arch()
    print(f"Confinement cost, {iterations} samples each; limits: {limits_mode}; "
          f"seccomp: {arch.name if arch else 'off'}; "
          f"{os.cpu_count()} CPUs, max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MiB\n")
    width = max(len(n) for n in figures)
    print(f"{'step':<{width}}  {'median ms':>13}  {'p90 ms':>13}  where it is paid")
    for name, f in figures.items():
        per_call = "per call" in name
        scale = 1e6 if per_call else 1.0  # syscalls: show nanoseconds
        unit = " ns" if per_call else ""
        print(f"{name:<{width}}  {float(f['median_ms']) * scale:>10.3f}{unit:3}  "
              f"{float(f['p90_ms']) * scale:>10.3f}{unit:3}  {f['where']}")

    def med(name: str) -> float:
        return float(figures[name]["median_ms"]) if name in figures else 0.0

    bare = med("bare fork + exit + wait")
    sandbox = max(med("sandbox: + join its slot cgroups"), med("sandbox: + mount/net/ipc/uts ns, /proc, /tmp"))
    worker = med("unit: fork + drop_privileges incl. seccomp + exit")
    job = med("job: bind the session + disk-watch baseline")
    syscall_extra = (med("getppid() via ctypes, per call, seccomp filter")
                     - med("getppid() via ctypes, per call, no filter")) * 1e6
    print()
    print(f"A confined sandbox costs {sandbox:.2f} ms to fork against {bare:.2f} ms for a bare fork "
          f"(+{sandbox - bare:.2f} ms), and its unit {worker:.2f} ms (+{worker - bare:.2f} ms): both are paid while")
    print("the sandbox waits in the pool, before any job. On the request's critical path: binding the session and")
    print(f"the disk-watch baseline, {job:.3f} ms per job; a confined unit for each case after the first "
          f"({worker:.2f} ms); and the seccomp filter, {syscall_extra:+.0f} ns per system call of user code.")


if __name__ == "__main__":
    sys.exit(main())
