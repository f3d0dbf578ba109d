"""One control group per sandbox slot, so process and memory limits hold per sandbox.

Every sandbox runs user code as the same unprivileged uid, so `RLIMIT_NPROC` (counted
per uid) would be shared by all of them: one sandbox's fork bomb would starve the rest,
and `RLIMIT_AS` bounds one process, not a sandbox. Control groups bound a sandbox as a
whole. The supervisor creates, below its own cgroup,

    repl-sandbox/sup-<supervisor pid>/slot-<N>      N = 0 .. pool_size + max_concurrent_jobs - 1

with `pids.max` = REPL_MAX_PROCESSES and a memory limit, in cgroup v2 when its controllers
are available there, else in the v1 `pids` and `memory` hierarchies (and `cpu` when
mounted, so that sandboxes share the CPU fairly among themselves). The zygote writes each
sandbox's pid into its slot's `cgroup.procs` right after the fork, before the sandbox is
handed a job. Slots are reused one sandbox at a time: when a sandbox's init exits, the
kernel has already killed every process of its pid namespace.

A setup that only looks right is worse than none (limits that silently did not apply
on an unexpected cgroup version are a known failure of peers), so `setup` proves its
work: it reads every limit back, places a probe process in slot 0 and checks in
`/proc/<probe>/cgroup` that it landed there. Anything unexpected raises `Unavailable`
with the reason, and the supervisor falls back to rlimits and says so at start.
"""

from __future__ import annotations

import atexit
import errno
import logging
import os
import re
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger("supervisor.cgroups")

PARENT = "repl-sandbox"
REQUIRED = ("pids", "memory")
OPTIONAL = ("cpu",)


class Unavailable(Exception):
    """The machine cannot give per-sandbox cgroups; the message says why."""


@dataclass(frozen=True)
class Hierarchy:
    """A mounted cgroup hierarchy and this process's cgroup in it."""

    version: int                 # 1 or 2
    mountpoint: str
    controllers: frozenset[str]  # v1: the controllers of this mount; v2: those available to us
    own_dir: str                 # the directory of this process's cgroup


@dataclass
class SandboxCgroups:
    """The cgroups made for the sandbox slots; `procs` is what the zygote needs."""

    version: int
    controllers: tuple[str, ...]
    parents: list[str]                 # repl-sandbox/sup-<pid> in each hierarchy used
    procs: dict[int, list[str]] = field(default_factory=dict)

    @property
    def mode(self) -> str:
        return f"cgroup-v{self.version}"

    def describe(self) -> str:
        return f"{self.mode} ({', '.join(self.controllers)}) under {', '.join(self.parents)}"

    def remove(self, timeout: float = 2.0) -> None:
        """Remove the slot cgroups (retrying while the last sandboxes finish dying)."""
        deadline = time.monotonic() + timeout
        for parent in self.parents:
            for directory in _slot_dirs(parent) + [parent]:
                while True:
                    try:
                        os.rmdir(directory)
                        break
                    except FileNotFoundError:
                        break
                    except OSError as exc:
                        if exc.errno != errno.EBUSY or time.monotonic() >= deadline:
                            log.warning("could not remove cgroup %s: %s", directory, exc)
                            break
                        time.sleep(0.02)


# --- discovery --------------------------------------------------------------------------

def hierarchies(mountinfo: str = "/proc/self/mountinfo", cgroup_file: str = "/proc/self/cgroup") -> list[Hierarchy]:
    """The cgroup hierarchies mounted here, each with this process's own directory in it."""
    own_v1: dict[str, str] = {}
    own_v2: str | None = None
    with open(cgroup_file) as f:
        for line in f:
            hier_id, names, path = line.rstrip("\n").split(":", 2)
            if hier_id == "0" and names == "":
                own_v2 = path
            else:
                for name in names.split(","):
                    own_v1[name] = path
    found: list[Hierarchy] = []
    with open(mountinfo) as f:
        for line in f:
            left, _, right = line.rstrip("\n").partition(" - ")
            fields, tail = left.split(), right.split()
            if len(fields) < 5 or len(tail) < 3:
                continue
            root, mountpoint, fstype, options = fields[3], _unescape(fields[4]), tail[0], tail[2]
            if fstype == "cgroup":
                controllers = frozenset(o for o in options.split(",") if o not in ("rw", "ro") and "=" not in o)
                own = next((own_v1[n] for n in controllers if n in own_v1), None)
                if own is not None:
                    found.append(Hierarchy(1, mountpoint, controllers, _join(mountpoint, root, own)))
            elif fstype == "cgroup2" and own_v2 is not None:
                own_dir = _join(mountpoint, root, own_v2)
                found.append(Hierarchy(2, mountpoint, frozenset(_read(own_dir, "cgroup.controllers").split()), own_dir))
    return found


def _unescape(path: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), path)


def _join(mountpoint: str, root: str, path: str) -> str:
    """Map a path of /proc/self/cgroup onto the mount (whose root may be a sub-cgroup)."""
    if root != "/" and (path == root or path.startswith(root + "/")):
        path = path[len(root):]
    return os.path.normpath(mountpoint + "/" + path.lstrip("/"))


def _read(directory: str, name: str) -> str:
    try:
        with open(os.path.join(directory, name)) as f:
            return f.read().strip()
    except OSError:
        return ""


def _write(directory: str, name: str, value: str) -> None:
    with open(os.path.join(directory, name), "w") as f:
        f.write(value)


def _slot_dirs(parent: str) -> list[str]:
    try:
        return [os.path.join(parent, n) for n in os.listdir(parent) if n.startswith("slot-")]
    except OSError:
        return []


# --- setup ------------------------------------------------------------------------------

def setup(slots: int, max_processes: int, memory_bytes: int) -> SandboxCgroups:
    """Create and verify one cgroup per slot; remove them when the supervisor exits.

    Raises:
        Unavailable: no usable cgroup hierarchy, no permission, or a limit that did not
            take effect; the message says which.
    """
    if os.geteuid() != 0:
        raise Unavailable("the supervisor is not root, so it cannot create cgroups")
    try:
        found = hierarchies()
    except OSError as exc:
        raise Unavailable(f"cannot read this process's cgroups: {exc}") from None
    v2 = next((h for h in found if h.version == 2 and set(REQUIRED) <= h.controllers), None)
    v1 = {name: h for name in REQUIRED + OPTIONAL for h in found if h.version == 1 and name in h.controllers}
    attempts: list[tuple[str, Callable[[], SandboxCgroups]]] = []
    if v2 is not None:
        attempts.append(("v2", lambda: _setup_v2(v2, slots, max_processes, memory_bytes)))
    if set(REQUIRED) <= set(v1):
        attempts.append(("v1", lambda: _setup_v1(v1, slots, max_processes, memory_bytes)))
    reasons = []
    for version, make in attempts:
        try:
            groups = make()
        except OSError as exc:
            reasons.append(f"{version}: {exc}")
            continue
        except Unavailable as exc:
            reasons.append(str(exc))
            continue
        atexit.register(groups.remove)
        return groups
    if not reasons:
        reasons.append("neither cgroup v2 with the pids and memory controllers nor the v1 pids and "
                       "memory hierarchies are mounted")
    raise Unavailable("; ".join(reasons))


def _tag() -> str:
    return f"sup-{os.getpid()}"


def _prepare_parent(base: str) -> str:
    """Make base/repl-sandbox/sup-<pid>, first removing what dead supervisors left there."""
    top = os.path.join(base, PARENT)
    os.makedirs(top, exist_ok=True)
    for name in os.listdir(top):
        match = re.fullmatch(r"sup-(\d+)", name)
        if match and int(match.group(1)) != os.getpid() and not _alive(int(match.group(1))):
            stale = os.path.join(top, name)
            for directory in _slot_dirs(stale) + [stale]:
                try:
                    os.rmdir(directory)
                except OSError:
                    pass
    parent = os.path.join(top, _tag())
    os.makedirs(parent, exist_ok=True)
    return parent


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _setup_v1(by_name: dict[str, Hierarchy], slots: int, max_processes: int, memory_bytes: int) -> SandboxCgroups:
    mounts: dict[str, Hierarchy] = {}
    for h in by_name.values():
        mounts.setdefault(h.mountpoint, h)
    parents = {mp: _prepare_parent(h.own_dir) for mp, h in mounts.items()}
    if "cpu" in by_name:
        _write(parents[by_name["cpu"].mountpoint], "cpu.shares", str(1024 * (os.cpu_count() or 1)))
    groups = SandboxCgroups(1, tuple(n for n in REQUIRED + OPTIONAL if n in by_name), list(parents.values()))
    for slot in range(slots):
        paths = []
        for parent in parents.values():
            directory = os.path.join(parent, f"slot-{slot}")
            os.makedirs(directory, exist_ok=True)
            paths.append(os.path.join(directory, "cgroup.procs"))
        groups.procs[slot] = paths
        pids_dir = os.path.join(parents[by_name["pids"].mountpoint], f"slot-{slot}")
        memory_dir = os.path.join(parents[by_name["memory"].mountpoint], f"slot-{slot}")
        _write(pids_dir, "pids.max", str(max_processes))
        _write(memory_dir, "memory.limit_in_bytes", str(memory_bytes))
        if os.path.exists(os.path.join(memory_dir, "memory.memsw.limit_in_bytes")):
            try:  # with swap accounting on, keep the sandbox from swapping around its limit
                _write(memory_dir, "memory.memsw.limit_in_bytes", str(memory_bytes))
            except OSError:
                pass
        _verify_limits(pids_dir, "pids.max", max_processes, exact=True)
        _verify_limits(memory_dir, "memory.limit_in_bytes", memory_bytes, exact=False)
    _verify_placement(groups)
    return groups


def _setup_v2(h: Hierarchy, slots: int, max_processes: int, memory_bytes: int) -> SandboxCgroups:
    wanted = [n for n in REQUIRED + OPTIONAL if n in h.controllers]
    enable = " ".join("+" + n for n in wanted)
    try:
        _write(h.own_dir, "cgroup.subtree_control", enable)
    except OSError as exc:
        if exc.errno != errno.EBUSY:
            raise
        # "No internal processes": a cgroup with members cannot hand controllers down.
        # Move this process (and so the zygote and sandboxes it starts) to a leaf, retry.
        leaf = os.path.join(h.own_dir, "repl-supervisor")
        os.makedirs(leaf, exist_ok=True)
        _write(leaf, "cgroup.procs", str(os.getpid()))
        try:
            _write(h.own_dir, "cgroup.subtree_control", enable)
        except OSError:
            raise Unavailable(f"v2: {h.own_dir} holds other processes, so it cannot delegate the "
                              "pids and memory controllers; run the supervisor in a cgroup of its own "
                              "(systemd Delegate=yes, or a container of its own)") from None
    top = os.path.join(h.own_dir, PARENT)
    os.makedirs(top, exist_ok=True)
    _write(top, "cgroup.subtree_control", enable)
    parent = _prepare_parent(h.own_dir)
    _write(parent, "cgroup.subtree_control", enable)
    if "cpu" in wanted:
        _write(parent, "cpu.weight", str(min(100 * (os.cpu_count() or 1), 10000)))
    groups = SandboxCgroups(2, tuple(wanted), [parent])
    for slot in range(slots):
        directory = os.path.join(parent, f"slot-{slot}")
        os.makedirs(directory, exist_ok=True)
        _write(directory, "pids.max", str(max_processes))
        _write(directory, "memory.max", str(memory_bytes))
        if os.path.exists(os.path.join(directory, "memory.swap.max")):
            _write(directory, "memory.swap.max", "0")
        _verify_limits(directory, "pids.max", max_processes, exact=True)
        _verify_limits(directory, "memory.max", memory_bytes, exact=False)
        groups.procs[slot] = [os.path.join(directory, "cgroup.procs")]
    _verify_placement(groups)
    return groups


def _verify_limits(directory: str, name: str, wanted: int, exact: bool) -> None:
    raw = _read(directory, name)
    ok = raw.isdigit() and (int(raw) == wanted if exact else wanted - 65536 <= int(raw) <= wanted)
    if not ok:
        raise Unavailable(f"{directory}/{name} reads {raw!r} after writing {wanted}: the limit did not apply")


def _verify_placement(groups: SandboxCgroups) -> None:
    """Put a probe process in slot 0 and check the kernel reports it there."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(write_end)
        os.read(read_end, 1)
        os._exit(0)
    os.close(read_end)
    try:
        for path in groups.procs[0]:
            with open(path, "w") as f:
                f.write(str(pid))
        with open(f"/proc/{pid}/cgroup") as f:
            lines = f.read().splitlines()
        suffix = f"/{PARENT}/{_tag()}/slot-0"
        hits = [line for line in lines if line.endswith(suffix)]
        expected = 1 if groups.version == 2 else len(groups.parents)
        if len(hits) < expected:
            raise Unavailable(f"a probe written to slot 0 is not there: /proc/{pid}/cgroup says {lines}")
    finally:
        os.close(write_end)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)
