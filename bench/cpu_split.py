"""``python3 -m bench.cpu_split``: where the CPU of one request goes, process by process.

Starts the service from this checkout (as ``python3 -m bench --start`` does), sends a
warm-up, then ``--requests`` sequential requests of one scenario at c=1, and reads the
CPU of every process of the service before and after, each time once the service has
gone quiet (it restores its sandboxes after a reply). A process's CPU is its own plus
that of the children it reaped, so a unit that ended is counted through the template
that forked it, and nothing is counted twice::

    python3 -m bench.cpu_split --scenario eval1 --requests 400
    python3 -m bench.cpu_split --scenario run_echo --requests 400 --py-spy /tmp/prof
    python3 -m bench.cpu_split --scenario eval1 --app pool   # the pool baseline instead
    python3 -m bench.cpu_split --scenario humaneval_tests --requests 328

A one-pass scenario (``humaneval``, ``humaneval_tests``) sends its problems in turn, over
and over, as a fixed scenario sends its one problem.

With ``--app pool`` the same is read of the ``pool`` baseline app (``bench/pool_app.py``
under the service's gunicorn settings): its gunicorn master, its workers, and what they
started (the process pools, the commands), so the two costs can be set side by side.

The roles are the process tree's levels (docs/architecture.md): the web tier's gunicorn
master and workers; the supervisor; the zygote; every sandbox's init, template and units
(a unit's children, the forks of ``isolation: "case"``, are counted with it). The client
is this process, counted over the requests only.

With ``--py-spy DIR`` a second pass of the same requests runs with ``py-spy record``
attached to each long-lived process (``requirements-dev.txt``; needs the privilege to
trace them), writes each one's stacks to ``DIR`` (folded: one stack and its sample count
a line) and prints the functions that took most samples per role, inclusive and self.
py-spy cannot read the state of a thread in another pid namespace (every sample of a
sandbox's process looks busy) and its own guess drops most samples of short bursts on
the web tier's threads, so it samples every thread (``--idle``) and a sample whose
innermost line is a call that waits (``recv``, ``poll``, ``select``, ``acquire``...,
``WAITING``) is dropped here instead, in every process alike. Units live a few
milliseconds, too short to attach to.

With ``--perf FILE`` a further pass runs under ``perf record -e cpu-clock -g`` attached to
every process of the service (its children inherit it, so the units are sampled too, and
only while on a CPU), and each role's samples are split by what they were doing: the
system call they were in (``fork``, ``exit``, ``execve``, ``mount``...), page faults,
other kernel work, or user space (the Python interpreter, libc...).

CPU times come from ``/proc`` in clock ticks (10 ms), so each sample is off by up to a
tick per process that moved; a few hundred requests make that small.
"""

from __future__ import annotations

import argparse
import functools
import linecache
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import psutil

if __package__ in (None, ""):  # run as a script: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.load import Budget  # noqa: E402 - after the path fix above
from bench.procs import POOL_APP  # noqa: E402
from bench.scenarios import SCENARIOS, SessionPool, Target, cycled, measure  # noqa: E402
from bench.servers import pool_env, running_app_process, running_service  # noqa: E402
from bench.stats import RunResult  # noqa: E402

REPO = Path(__file__).resolve().parent.parent

#: The service's process levels below the supervisor, by depth (deeper: a unit's own).
SERVICE_ROLES = ("supervisor", "zygote", "init", "template", "unit")

#: What the children a process of each level reaped were (the zygote reaps sandboxes).
REAPED_ROLES = ("-", "ended sandboxes", "ended templates", "unit", "unit")

#: The order roles are printed in: a request's path through the processes.
ROLE_ORDER = ("client", "web master", "web worker", "web children", "supervisor", "zygote", "init",
              "template", "unit", "ended templates", "ended sandboxes")

#: The roles py-spy is attached to: the long-lived Python processes.
SAMPLED_ROLES = ("web worker", "supervisor", "zygote", "init", "template")

#: A call that waits for something: a sample stopped on a line that makes one is idle.
WAITING = re.compile(r"\b(?:\w+_)?(?:recv\w*|poll|select|epoll\w*|wait\w*|read|sleep|accept|acquire)\("
                     r"|\.get\(block=True")

#: Seconds between two samples while waiting for the service to go quiet, the CPU that
#: counts as quiet between two of them, and the longest wait.
SETTLE_INTERVAL_S = 0.2
SETTLE_CPU_S = 0.002
SETTLE_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Proc:
    """One process as sampled: its role and CPU seconds.

    Attributes:
        role: Its level (``SERVICE_ROLES``, ``web master``, ``web worker``).
        own: Its own user and system CPU.
        reaped: The CPU of the children it has waited for.
        reaped_role: What those children were.
        parent: Its parent's pid.
    """

    role: str
    own: float
    reaped: float
    reaped_role: str
    parent: int = 0


def _walk(root: int) -> Iterator[tuple[psutil.Process, int]]:
    """Yields each process of the tree under ``root`` with its depth (``root`` is 0)."""
    try:
        stack = [(psutil.Process(root), 0)]
    except psutil.NoSuchProcess:
        return
    while stack:
        process, depth = stack.pop()
        yield process, depth
        try:
            stack += [(child, depth + 1) for child in process.children()]
        except psutil.NoSuchProcess:
            continue


def classify(depth: int, web: bool) -> tuple[str, str]:
    """The role of a process at ``depth`` of the web or the supervisor tree, and that of the
    children it reaps (a web worker's: the ``pool`` app's process pools and commands)."""
    if web:
        return ("web master", "web worker") if depth == 0 else ("web worker", "web children")
    level = min(depth, len(SERVICE_ROLES) - 1)
    return SERVICE_ROLES[level], REAPED_ROLES[level]


def sample(roots: Mapping[str, int]) -> dict[int, Proc]:
    """Reads the CPU of every process of the ``web`` and ``supervisor`` trees."""
    found: dict[int, Proc] = {}
    for tree, root in roots.items():
        for process, depth in _walk(root):
            try:
                times, parent = process.cpu_times(), process.ppid()
            except psutil.NoSuchProcess:
                continue
            role, reaped_role = classify(depth, tree == "web")
            found[process.pid] = Proc(role, times.user + times.system,
                                      times.children_user + times.children_system, reaped_role, parent)
    return found


def used_by_role(before: Mapping[int, Proc], after: Mapping[int, Proc]) -> dict[str, float]:
    """CPU seconds per role between two samples (``bench.service_cpu.used_between``, by
    role): a process that ended in between is counted in its surviving ancestor's reaped
    CPU, less what it had used before the first sample, never more than that grew by."""
    used: dict[str, float] = {}

    def add(role: str, seconds: float) -> None:
        used[role] = used.get(role, 0.0) + seconds

    for pid, proc in after.items():
        earlier = before.get(pid)
        add(proc.role, proc.own - (earlier.own if earlier else 0.0))
        add(proc.reaped_role, proc.reaped - (earlier.reaped if earlier else 0.0))
    owed: dict[int, float] = {}
    for pid, proc in before.items():
        if pid in after:
            continue
        ancestor = proc.parent
        while ancestor in before and ancestor not in after:
            ancestor = before[ancestor].parent
        if ancestor in after:
            owed[ancestor] = owed.get(ancestor, 0.0) + proc.own + proc.reaped
    for ancestor, amount in owed.items():
        earlier = before.get(ancestor)
        grown = after[ancestor].reaped - (earlier.reaped if earlier else 0.0)
        add(after[ancestor].reaped_role, -min(amount, max(grown, 0.0)))
    used.pop("-", None)
    return used


def quiet_sample(roots: Mapping[str, int]) -> dict[int, Proc]:
    """Samples once the service has stopped working on the last request."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    last = sample(roots)
    while time.monotonic() < deadline:
        time.sleep(SETTLE_INTERVAL_S)
        now = sample(roots)
        if sum(used_by_role(last, now).values()) < SETTLE_CPU_S:
            return now
        last = now
    return last


def _client_cpu() -> float:
    """This process's CPU seconds (every thread: the load driver's included)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass(frozen=True)
class Split:
    """CPU per request by role.

    Attributes:
        scenario: What one request was.
        requests: Requests measured.
        ms: CPU milliseconds per request, by role.
        run: The measured run (its errors void the figures).
    """

    scenario: str
    requests: int
    ms: dict[str, float]
    run: RunResult

    @property
    def total_ms(self) -> float:
        """CPU milliseconds per request, all roles."""
        return sum(self.ms.values())


def split_cpu(roots: Mapping[str, int], run: Callable[[], RunResult], scenario: str) -> Split:
    """Runs the requests between two quiet samples; returns the CPU per request by role."""
    before = quiet_sample(roots)
    client_before = _client_cpu()
    result = run()
    client = _client_cpu() - client_before
    used = used_by_role(before, quiet_sample(roots))
    count = max(result.ok + result.errors, 1)
    ms = {role: seconds / count * 1000.0 for role, seconds in used.items()}
    ms["client"] = client / count * 1000.0
    return Split(scenario, count, ms, result)


def render(split: Split) -> str:
    """The split as a table: role, ms per request, share of the total."""
    total = split.total_ms
    lines = [f"{split.scenario}: {split.requests} sequential requests, {split.run.errors} errors, "
             f"p50 {split.run.latency.p50_ms if split.run.latency else float('nan'):.2f} ms",
             f"{'process':<17}{'CPU ms/request':>15}{'share':>8}"]
    roles = [role for role in ROLE_ORDER if role in split.ms] + sorted(set(split.ms) - set(ROLE_ORDER))
    for role in roles:
        value = split.ms[role]
        share = value / total * 100 if total else 0.0
        lines.append(f"{role:<17}{value:>15.2f}{share:>7.1f}%")
    lines.append(f"{'total':<17}{total:>15.2f}{100.0 if total else 0.0:>7.1f}%")
    return "\n".join(lines)


# --- py-spy ------------------------------------------------------------------------------

def _frame(frame: str) -> str:
    """``func (/.../site-packages/zmq/x.py:12)`` -> ``func (zmq/x.py)``: a function,
    whatever the line, with its path from the package root."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "/lib/python3."):
        if marker in path:
            path = path.split(marker, 1)[1]
            path = path.split("/", 1)[1] if marker.startswith("/lib") else path
    return f"{name} ({path})"


@functools.cache
def _source(path: str) -> str:
    """The file py-spy names ``path`` (absolute, or relative to this checkout or to an
    import directory: it shortens the standard library's paths)."""
    if os.path.isabs(path):
        return path
    for directory in (str(REPO), *sys.path):
        candidate = os.path.join(directory, path)
        if os.path.isfile(candidate):
            return candidate
    return path


def waits(frame: str) -> bool:
    """Whether ``func (path:line)``'s line makes a call that waits (``WAITING``)."""
    _name, _, where = frame.partition(" (")
    path, _, line = where.rstrip(")").rpartition(":")
    if not line.isdigit():
        return False
    return bool(WAITING.search(linecache.getline(_source(path), int(line))))


def summarize_folded(lines: list[str], top: int = 10, drop_waits: bool = False
                     ) -> tuple[int, list[tuple[str, int]], list[tuple[str, int]]]:
    """Reads folded stacks (``a;b;c 12``): total samples, the functions most often on the
    stack (inclusive) and most often at its top (self); with ``drop_waits``, without the
    samples stopped on a line that waits."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in lines:
        stack, _, count_text = line.rstrip("\n").rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        raw = [frame for frame in stack.split(";") if frame and not frame.startswith("process ")]
        if not raw or (drop_waits and waits(raw[-1])):
            continue
        frames = [_frame(frame) for frame in raw]
        total += count
        for frame in set(frames):
            inclusive[frame] += count
        own[frames[-1]] += count
    return total, inclusive.most_common(top), own.most_common(top)


def _targets(roots: Mapping[str, int]) -> list[tuple[str, int]]:
    """The long-lived processes to sample: (role, pid)."""
    return sorted((proc.role, pid) for pid, proc in sample(roots).items() if proc.role in SAMPLED_ROLES)


def profile(roots: Mapping[str, int], run: Callable[[], RunResult], directory: Path,
            rate: int) -> str:
    """Runs the requests with py-spy on every long-lived process; returns the summary."""
    py_spy = shutil.which("py-spy")
    if py_spy is None:
        raise RuntimeError("py-spy is not installed (pip install -r requirements-dev.txt)")
    directory.mkdir(parents=True, exist_ok=True)
    spies = []
    for role, pid in _targets(roots):
        output = directory / f"{role.replace(' ', '-')}-{pid}.folded"
        spies.append((role, output, subprocess.Popen(  # noqa: S603 - our own tool, fixed arguments
            [py_spy, "record", "--pid", str(pid), "--rate", str(rate), "--nonblocking", "--idle",
             "--format", "raw", "--output", str(output)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)))
    time.sleep(2.0)  # py-spy attaches
    try:
        run()
    finally:
        for _role, _output, spy in spies:
            spy.send_signal(signal.SIGINT)
        for _role, _output, spy in spies:
            try:
                spy.wait(timeout=30)
            except subprocess.TimeoutExpired:
                spy.kill()
    merged: dict[str, list[str]] = {}
    for role, output, _spy in spies:
        if output.is_file():
            merged.setdefault(role, []).extend(output.read_text(encoding="utf-8").splitlines())
    parts = []
    for role in SAMPLED_ROLES:
        total, inclusive, own = summarize_folded(merged.get(role, []), drop_waits=True)
        if not total:
            continue
        parts.append(f"\n{role}: {total} samples at {rate}/s, waiting lines dropped")
        parts += [f"  incl {count / total * 100:5.1f}%  {frame}" for frame, count in inclusive]
        parts += [f"  self {count / total * 100:5.1f}%  {frame}" for frame, count in own]
    return "\n".join(parts)


# --- perf ------------------------------------------------------------------------------

SYSCALL = re.compile(r"(?:__x64_sys|__do_sys|__se_sys)_(\w+)")

#: System calls reported under one name.
SYSCALL_GROUPS = {"clone": "fork", "clone3": "fork", "vfork": "fork", "fork": "fork",
                  "exit_group": "exit", "exit": "exit", "umount": "mount", "move_mount": "mount",
                  "open_tree": "mount", "wait4": "wait", "waitid": "wait"}


def stack_category(frames: list[tuple[str, str]]) -> str:
    """What a sample was doing, from its stack (``(symbol, dso)``, innermost first): the
    system call it was in, a page fault, other kernel work, or its user-space library."""
    for symbol, _dso in reversed(frames):  # the outermost entry into the kernel decides
        found = SYSCALL.match(symbol)
        if found:
            return "sys " + SYSCALL_GROUPS.get(found[1], found[1])
        if symbol.startswith("asm_exc_page_fault"):
            return "page faults"
    if not frames:
        return "unknown"
    if frames[0][1] == "[kernel.kallsyms]":
        return "kernel, other"
    library = Path(frames[0][1]).name
    return "Python interpreter" if library.startswith("libpython") else f"user {library}"


def read_perf_script(lines: Iterator[str]) -> Iterator[tuple[int, list[tuple[str, str]]]]:
    """Yields ``(pid, frames)`` per sample of ``perf script -F comm,pid,tid,ip,sym,dso``
    (a ``comm pid/tid`` line, then one ``address symbol (dso)`` line per frame)."""
    pid: int | None = None
    frames: list[tuple[str, str]] = []
    for line in lines:
        if not line.strip():
            if pid is not None:
                yield pid, frames
            pid, frames = None, []
        elif not line[0].isspace():
            fields = line.split()
            numbers = [field for field in fields[1:3] if field.split("/")[0].isdigit()]
            pid = int(numbers[0].split("/")[0]) if numbers else None
        else:
            parts = line.split(None, 1)
            if len(parts) == 2:
                symbol, _, dso = parts[1].rpartition(" (")
                frames.append((symbol.split("+0x")[0], dso.rstrip(")\n")))
    if pid is not None:
        yield pid, frames


def perf_profile(roots: Mapping[str, int], run: Callable[[], RunResult], output: Path,
                 split: Split) -> str:
    """Runs the requests under ``perf record`` attached to every process of ``roots``;
    returns each role's samples by category, in shares and in ms per request (the shares
    times the role's CPU from ``split``)."""
    perf = shutil.which("perf")
    if perf is None:
        raise RuntimeError("perf is not installed")
    known = sample(roots)
    pids = ",".join(str(pid) for pid in known)
    recorder = subprocess.Popen(  # noqa: S603 - our own tool, fixed arguments
        [perf, "record", "-e", "cpu-clock", "-F", "2000", "-g", "-p", pids, "-o", str(output)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(2.0)
    try:
        run()
    finally:
        recorder.send_signal(signal.SIGINT)
        recorder.wait(timeout=60)
    known.update(sample(roots))
    newcomer = "unit" if "supervisor" in roots else "web children"
    script = subprocess.run(  # noqa: S603 - our own tool, fixed arguments
        [perf, "script", "-i", str(output), "-F", "comm,pid,tid,ip,sym,dso"], capture_output=True,
        text=True, check=False)
    counts: dict[str, Counter[str]] = {}
    for pid, frames in read_perf_script(iter(script.stdout.splitlines())):
        role = known[pid].role if pid in known else newcomer
        counts.setdefault(role, Counter())[stack_category(frames)] += 1
    parts = []
    for role in [role for role in ROLE_ORDER if role in counts]:
        total = sum(counts[role].values())
        role_ms = split.ms.get(role, 0.0)
        parts.append(f"\n{role}: {total} samples, {role_ms:.2f} ms/request")
        parts += [f"  {count / total * 100:5.1f}%  {count / total * role_ms:6.2f} ms  {category}"
                  for category, count in counts[role].most_common(10)]
    return "\n".join(parts)


# --- command line ----------------------------------------------------------------------------

@contextmanager
def _target(app: str, workdir: Path) -> Iterator[tuple[str, dict[str, int]]]:
    """Starts the service (or the ``pool`` app); yields its URL and its trees' root pids."""
    if app == "pool":
        with running_app_process("pool", POOL_APP, REPO, workdir, 60, pool_env(workdir)) as (url, process):
            assert process.popen is not None  # noqa: S101 - started above
            yield url, {"web": process.popen.pid}
        return
    with running_service(REPO, workdir, 60) as service:
        pids = {process.name: process.popen.pid for process in service.processes if process.popen}
        yield service.base_url, {"web": pids["web"], "supervisor": pids["supervisor"]}


def main(argv: list[str] | None = None) -> int:
    """Prints the CPU per request by process (and, with ``--py-spy``, by function)."""
    parser = argparse.ArgumentParser(prog="python3 -m bench.cpu_split", description=__doc__.split("\n")[0])
    parser.add_argument("--scenario", default="eval1", choices=sorted(SCENARIOS),
                        help="a one-pass scenario (humaneval, humaneval_tests) sends its problems in turn")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--py-spy", type=Path, metavar="DIR",
                        help="also sample the long-lived processes with py-spy, stacks into DIR")
    parser.add_argument("--rate", type=int, default=500, help="py-spy samples per second (default 500)")
    parser.add_argument("--perf", type=Path, metavar="FILE",
                        help="also sample every process with perf record (data into FILE)")
    parser.add_argument("--app", choices=("service", "pool"), default="service",
                        help="what to measure: the service, or the pool baseline app")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="repl-cpu-split-"))
    try:
        with _target(args.app, workdir) as (url, roots):
            scenario = cycled(SCENARIOS[args.scenario])
            pool = SessionPool(Target(url, os.environ.get("REPL_API_TOKEN"), 30.0),
                               "cpu-split", scenario.files)
            budget = Budget(duration_s=None, requests=args.requests, warmup=0, max_seconds=600)

            def run() -> RunResult:
                return measure(scenario, pool, [1], budget, lambda _r: None)[0]

            measure(scenario, pool, [1], replace(budget, requests=args.warmup), lambda _r: None)
            split = split_cpu(roots, run, args.scenario)
            print(render(split), flush=True)
            if args.py_spy is not None:
                print(profile(roots, run, args.py_spy, args.rate), flush=True)
            if args.perf is not None:
                print(perf_profile(roots, run, args.perf, split), flush=True)
            pool.delete_all()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
