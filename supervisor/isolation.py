"""Can this machine isolate sandboxes? Checked once at start, so we fail closed.

The check forks a throw-away child that rehearses what every sandbox will do, step by
step from the same recipe (`confine.RECIPE`): new pid, mount, net, ipc and uts
namespaces, a fresh /proc and /tmp, rlimits, no-new-privs, no capabilities, the sandbox
uid, the seccomp filter. The first step that fails names what the machine lacks, and the
supervisor refuses to start unless REPL_INSECURE=1.

It also decides how per-sandbox process and memory limits are enforced: one cgroup per
sandbox slot where the machine allows it (`supervisor.cgroups`), else rlimits alone,
which bound each process but are shared by every sandbox through the one sandbox uid.
"""

from __future__ import annotations

import logging
import os
import resource
import stat
import sys
from dataclasses import dataclass

from protocol import settings
from supervisor import cgroups
from supervisor.sandbox import confine, libc, seccomp

log = logging.getLogger("supervisor.isolation")

MEMORY_SLACK_MB = 64  # the sandbox's init and /dev/shm, on top of user code and /tmp


@dataclass(frozen=True)
class Mode:
    name: str      # "namespaces" or "insecure"
    limits: str    # how per-sandbox process and memory limits are enforced: cgroup-v1, cgroup-v2, rlimits
    missing: str   # what the machine lacks, empty when isolation is available
    limits_detail: str = ""                  # where the cgroups are, or why there are none
    seccomp: str = ""                        # the filter's architecture, empty when skipped
    cgroups: cgroups.SandboxCgroups | None = None

    @property
    def nproc_limit_factor(self) -> int:
        """How many sandboxes share RLIMIT_NPROC (it counts every process of the sandbox uid)."""
        return len(self.cgroups.procs) if self.cgroups is not None else 1


def check(config: settings.Config) -> Mode:
    """Decide the isolation and limits mode from the machine and the configuration."""
    insecure_requested = bool(config.insecure)
    missing = _missing(int(config.sandbox_uid))
    name = "insecure" if insecure_requested or missing else "namespaces"
    limits, detail, groups = _limits(config)
    arch = seccomp.current_arch()
    if arch is None:
        log.warning("the seccomp filter supports x86_64 and aarch64, not %r: sandboxes run without it",
                    os.uname().machine)
    return Mode(name, limits, missing, detail, arch.name if arch else "", groups)


def closed_ancestor(path: str, uid: int) -> str | None:
    """The first directory on the way to `path` (itself included) that a process of `uid`
    (and gid `uid`, no other group, as the sandbox user) may not enter, or None. Without
    namespaces user code works in the session directories where they lie, not under a
    mount made for it, so every directory above them must let it through."""
    current = "/"
    for part in [p for p in os.path.realpath(path).split(os.sep) if p]:
        current = os.path.join(current, part)
        try:
            info = os.stat(current)
        except FileNotFoundError:
            return None  # made later by the supervisor, traversable (0711)
        if info.st_uid == uid:
            allowed = info.st_mode & stat.S_IXUSR
        elif info.st_gid == uid:
            allowed = info.st_mode & stat.S_IXGRP
        else:
            allowed = info.st_mode & stat.S_IXOTH
        if not allowed:
            return current
    return None


def sandbox_memory_bytes(config: settings.Config) -> int:
    """The memory one sandbox may use in all: the largest limit a job may get, plus /tmp and slack."""
    largest = max(int(config.max_eval_memory_mb), int(config.eval_memory_mb),
                  int(config.run_memory_mb))
    return (largest + int(config.tmp_size_mb) + MEMORY_SLACK_MB) << 20


def _limits(config: settings.Config) -> tuple[str, str, cgroups.SandboxCgroups | None]:
    slots = int(config.pool_size) + int(config.max_concurrent_jobs)
    try:
        groups = cgroups.setup(slots, int(config.max_processes), sandbox_memory_bytes(config))
    except cgroups.Unavailable as exc:
        return "rlimits", f"no per-sandbox cgroups ({exc}); process limits are shared by all sandboxes", None
    return groups.mode, groups.describe(), groups


def _missing(sandbox_uid: int) -> str:
    if not sys.platform.startswith("linux"):
        return f"Linux namespaces (this is {sys.platform})"
    if os.geteuid() != 0:
        return (f"root privileges (the supervisor runs as uid {os.geteuid()} and cannot create namespaces "
                "or switch sandboxes to an unprivileged uid)")
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        step = _rehearse(sandbox_uid)
        os.write(write_end, step.encode())
        os._exit(0 if not step else 1)
    os.close(write_end)
    chunks = []
    while chunk := os.read(read_end, 4096):
        chunks.append(chunk)
    os.close(read_end)
    _, status = os.waitpid(pid, 0)
    failed = b"".join(chunks).decode()
    if not failed and os.waitstatus_to_exitcode(status) != 0:
        failed = "a working fork (the isolation probe died)"
    return failed


def _rehearse(sandbox_uid: int) -> str:
    """In a throw-away child: every step of a sandbox (`confine.RECIPE`, after the new pid
    namespace the zygote makes for each sandbox); returns what failed, or ''."""
    try:
        libc.unshare(libc.CLONE_NEWPID)
    except OSError as exc:
        return f"permission to create pid namespaces ({exc.strerror}; needs CAP_SYS_ADMIN)"
    def hard(kind: int) -> int:
        return resource.getrlimit(kind)[1]
    limits = confine.Limits(cpu_seconds=hard(resource.RLIMIT_CPU), memory_bytes=hard(resource.RLIMIT_AS),
                            max_processes=hard(resource.RLIMIT_NPROC), max_file_bytes=hard(resource.RLIMIT_FSIZE),
                            max_open_files=hard(resource.RLIMIT_NOFILE))
    try:
        confine.contain(confine.RECIPE, confine.Target(uid=sandbox_uid, limits=limits,
                                                       cap_last=confine.read_cap_last(), tmp_size_mb=1))
    except confine.StepFailed as exc:
        return f"{exc.step.needs} ({exc.reason})"
    return ""
