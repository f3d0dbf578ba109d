"""Runs in: the supervisor (the isolation check), the zygote (the read-only image), the
init (its namespaces) and the template (its confinement).

Confinement: the namespaces, mounts, rlimits and privilege drop of docs/api.md §7.

The work is split by when it can happen, so that as little as possible sits on a
request's critical path:

1. `build_root` runs once in the zygote: a private mount namespace whose root is a
   read-only tmpfs holding read-only binds of the system (`/usr`, `/etc`, the Python
   prefix); the session root, the service's files and the rest of the host are absent.
2. `SANDBOX_STEPS` of the recipe run once in each sandbox's init (already pid 1 of a new
   pid namespace): new mount, net, ipc and uts namespaces, `/proc`, a private `/tmp`.
3. `bind_session` runs when a job arrives: the one session directory is bound at
   `WORKDIR` (`leave_session` unbinds it; `refresh_scratch` renews /tmp between runs).
4. `PROCESS_STEPS` of the recipe, with a template uid, run once in the sandbox's
   template, which forks every unit already confined: rlimits, no-new-privs, an empty
   capability bounding set, the unprivileged uid, the seccomp filter.

`RECIPE` is those steps in one ordered list (nsjail's `containProc` reads the same way);
the supervisor's start-up check (`supervisor.isolation`) rehearses the whole of it in a
throw-away process, so a machine that refuses a step is named before any sandbox runs.
The order follows bubblewrap and nsjail: namespaces and mounts while privileged, then
rlimits, then `PR_SET_NO_NEW_PRIVS`, then the uid change, then seccomp last.
"""

from __future__ import annotations

import os
import resource
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass

from supervisor.sandbox import libc, seccomp

WORKDIR = "/session"
PROGRAM_DIR = "/program"  # a program evaluation's code, read-only, for the job (see `programs`)
JUDGE_DIR = "/judge"  # a request's checker, open only while the checker runs (see `judges`)
HIDDEN = "/.supervisor"  # root-only (0700): what only the sandbox's init may reach
SESSIONS = HIDDEN + "/sessions"  # the session root inside the image; each job binds one session from it
MAX_FD = 1 << 16
NEW_ROOT = "/tmp/.repl-root"
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt")
HIDDEN_FILES = ("/etc/shadow", "/etc/gshadow", "/etc/shadow-", "/etc/gshadow-")
DEVICES = ("null", "zero", "full", "random", "urandom")
SANDBOX_PATH = "/usr/local/bin:/usr/bin:/bin"
RO_FLAGS = libc.MS_REMOUNT | libc.MS_BIND | libc.MS_RDONLY | libc.MS_NOSUID | libc.MS_NODEV


@dataclass(frozen=True)
class Limits:
    """Resource limits applied to the process that runs user code."""

    cpu_seconds: int
    memory_bytes: int
    max_processes: int
    max_file_bytes: int
    max_open_files: int


def _bind_readonly(source: str, target_root: str) -> None:
    target = target_root + source
    if os.path.islink(source):
        os.makedirs(os.path.dirname(target), exist_ok=True)
        os.symlink(os.readlink(source), target)
        return
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        open(target, "w").close()
    libc.mount(source, target, None, libc.MS_BIND | libc.MS_REC)
    libc.mount(None, target, None, RO_FLAGS)


def _python_prefixes() -> list[str]:
    """Where this interpreter lives: its own prefix first (a virtualenv's), then its base's."""
    return list(dict.fromkeys([os.path.realpath(sys.prefix), os.path.realpath(sys.base_prefix)]))


def _prefixes_to_bind() -> list[str]:
    """The interpreter's prefixes the image holds only if bound on their own: those outside
    the system directories (pyenv under /root, a virtualenv under /var/tmp); one under /opt
    or /usr is in the image already.

    Sorted, so that a prefix is bound before any prefix inside it.
    """
    return sorted(p for p in _python_prefixes() if not any(p == d or p.startswith(d + "/") for d in SYSTEM_DIRS))


def _open_prefixes() -> dict[str, int]:
    """An O_PATH descriptor of each interpreter prefix, opened while the host's view holds.

    `build_root` covers /tmp with a tmpfs to build the image there, so a prefix under /tmp
    (a CI virtualenv) is out of sight by the time it is bound: it is bound from its
    descriptor instead, as the session root is, which works wherever it lives.
    """
    return {prefix: os.open(prefix, os.O_PATH | os.O_DIRECTORY) for prefix in _prefixes_to_bind()}


def _bind_prefix(prefix: str, fd: int, target_root: str) -> None:
    """Bind the directory open as `fd` read-only at `prefix` inside the image."""
    target = target_root + prefix
    os.makedirs(target, exist_ok=True)
    libc.mount(f"/proc/self/fd/{fd}", target, None, libc.MS_BIND | libc.MS_REC)
    libc.mount(None, target, None, RO_FLAGS)


def build_root(session_root: str, covered: list[str] | None = None) -> None:
    """Enter a private mount namespace whose root is the read-only sandbox image.

    `covered`: directories of the image covered with an empty one (the service's own
    packages, when user code runs on another interpreter: `supervisor.runtime`).

    Called once in the zygote. The session root is bound at SESSIONS (a mount can only be
    bound from the caller's own mount namespace, so it must be in the image); each sandbox
    binds its one session from there and then detaches SESSIONS from its own view.
    """
    libc.unshare(libc.CLONE_NEWNS)
    libc.mount(None, "/", None, libc.MS_REC | libc.MS_PRIVATE)
    # Opened in this namespace, before /tmp is covered: the session root and the
    # interpreter may live there.
    sessions_fd = os.open(session_root, os.O_PATH | os.O_DIRECTORY)
    prefix_fds = _open_prefixes()
    # A tmpfs over /tmp (in this namespace only) gives a scratch place for the new root.
    libc.mount("tmpfs", "/tmp", "tmpfs", libc.MS_NOSUID | libc.MS_NODEV, "size=4m,mode=755")
    os.makedirs(NEW_ROOT)
    libc.mount("tmpfs", NEW_ROOT, "tmpfs", libc.MS_NOSUID | libc.MS_NODEV, "size=1m,mode=755")
    for source in SYSTEM_DIRS:
        if os.path.lexists(source):
            _bind_readonly(source, NEW_ROOT)
    for prefix, fd in prefix_fds.items():
        _bind_prefix(prefix, fd, NEW_ROOT)
        os.close(fd)
    _seal_parents(list(prefix_fds))
    for directory in covered or ():
        if os.path.isdir(NEW_ROOT + directory):
            libc.mount("tmpfs", NEW_ROOT + directory, "tmpfs", libc.MS_RDONLY | libc.MS_NOSUID | libc.MS_NODEV,
                       "size=4k,mode=555")
    for hidden in HIDDEN_FILES:
        if os.path.isfile(NEW_ROOT + hidden):
            libc.mount("/dev/null", NEW_ROOT + hidden, None, libc.MS_BIND)
    _make_dev(NEW_ROOT + "/dev")
    os.makedirs(NEW_ROOT + SESSIONS, mode=0o700)
    os.chmod(NEW_ROOT + HIDDEN, 0o700)
    libc.mount(f"/proc/self/fd/{sessions_fd}", NEW_ROOT + SESSIONS, None, libc.MS_BIND)
    os.close(sessions_fd)
    libc.mount(None, NEW_ROOT + SESSIONS, None, libc.MS_REMOUNT | libc.MS_BIND | libc.MS_NOSUID | libc.MS_NODEV)
    for mountpoint in ("/proc", "/tmp", WORKDIR, PROGRAM_DIR, JUDGE_DIR):
        os.makedirs(NEW_ROOT + mountpoint, exist_ok=True)
    os.chmod(NEW_ROOT + "/tmp", 0o1777)
    old = NEW_ROOT + "/.old"
    os.mkdir(old)
    libc.pivot_root(NEW_ROOT, old)
    os.chdir("/")
    libc.umount("/.old", libc.MNT_DETACH)
    os.rmdir("/.old")
    libc.mount(None, "/", None, RO_FLAGS)


def _seal_parents(prefixes: list[str]) -> None:
    """Make the directories made above an interpreter outside /usr traversable, not listable.

    A pyenv Python lives under /root: the image then holds /root/.pyenv/versions/X and
    nothing else of /root, and `ls /root` should not even show that much.
    """
    for prefix in prefixes:
        parent = os.path.dirname(prefix)
        while parent not in ("/", ""):
            os.chmod(NEW_ROOT + parent, 0o711)
            parent = os.path.dirname(parent)


def _make_dev(dev: str) -> None:
    os.makedirs(dev)
    libc.mount("tmpfs", dev, "tmpfs", libc.MS_NOSUID | libc.MS_NOEXEC, "size=64k,mode=755")
    for name in DEVICES:
        open(f"{dev}/{name}", "w").close()
        libc.mount(f"/dev/{name}", f"{dev}/{name}", None, libc.MS_BIND)
    os.makedirs(f"{dev}/shm")
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                         ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
        os.symlink(target, f"{dev}/{name}")
    libc.mount(None, dev, None, libc.MS_REMOUNT | libc.MS_RDONLY | libc.MS_NOSUID | libc.MS_NOEXEC)


def bind_session(session: str | None, scratch_mb: int) -> None:
    """Bind the job's session directory (or an empty scratch tmpfs) at WORKDIR.

    The session root stays mounted for the next job, under HIDDEN, which only root (the
    init) can traverse; user code never holds a path or descriptor into it.
    """
    flags = libc.MS_NOSUID | libc.MS_NODEV
    if session is None:
        libc.mount("tmpfs", WORKDIR, "tmpfs", flags, f"size={scratch_mb}m,mode=1777")
    else:
        root_fd = os.open(SESSIONS, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW)
        fd = os.open(session, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=root_fd)
        try:
            libc.mount(f"/proc/self/fd/{fd}", WORKDIR, None, libc.MS_BIND | flags)
        finally:
            os.close(fd)
            os.close(root_fd)
    os.chdir(WORKDIR)


def leave_session() -> None:
    """Unbind the job's session (every process that used it is dead by now)."""
    os.chdir("/")
    try:
        libc.umount(WORKDIR, libc.MNT_DETACH)
    except OSError:
        pass  # nothing bound: the job failed before its session was entered


def refresh_scratch(tmp_size_mb: int) -> None:
    """A new, empty /tmp and /dev/shm for the next execution; the old ones are detached
    (their last user is dead, so the kernel frees them)."""
    flags = libc.MS_NOSUID | libc.MS_NODEV
    for target, extra, data in (("/tmp", 0, f"size={tmp_size_mb}m,mode=1777"),
                                ("/dev/shm", libc.MS_NOEXEC, "size=16m,mode=1777")):
        libc.umount(target, libc.MNT_DETACH)
        libc.mount("tmpfs", target, "tmpfs", flags | extra, data)


def set_limits(limits: Limits) -> None:
    """Apply `limits`; without privilege (insecure mode as a user) no limit is raised
    above the hard limit the process already has."""
    privileged = os.geteuid() == 0

    def cap(kind: int, value: int, hard: int | None = None) -> None:
        hard = value if hard is None else hard
        if not privileged:
            current = resource.getrlimit(kind)[1]
            if current != resource.RLIM_INFINITY:
                hard = current if hard == resource.RLIM_INFINITY else min(hard, current)
                value = hard if value == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(kind, (value, hard))

    cap(resource.RLIMIT_CORE, 0)
    infinite = resource.RLIM_INFINITY
    cap(resource.RLIMIT_CPU, limits.cpu_seconds, infinite if limits.cpu_seconds == infinite else limits.cpu_seconds + 1)
    cap(resource.RLIMIT_AS, limits.memory_bytes)
    cap(resource.RLIMIT_NPROC, limits.max_processes)
    cap(resource.RLIMIT_FSIZE, limits.max_file_bytes)
    cap(resource.RLIMIT_NOFILE, limits.max_open_files)


def set_oom_score_adj(value: int) -> None:
    try:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write(str(value))
    except OSError:
        pass  # a preference for the OOM killer, not a protection: never fatal


@dataclass(frozen=True)
class UnitIdentity:
    """What a unit's process becomes after the template forks it."""

    uid: int | None  # None: keep the template's (insecure mode without root)
    max_processes: int
    environment: dict[str, str]


def can_switch_uid() -> bool:
    """CAP_SETGID, CAP_SETUID and CAP_SETPCAP are all effective (root is not enough:
    a root without capabilities cannot change its uid or drop its bounding set)."""
    needed = (1 << 6) | (1 << 7) | (1 << 8)
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("CapEff:"):
                return int(line.split()[1], 16) & needed == needed
    return False


def read_cap_last() -> int:
    with open("/proc/sys/kernel/cap_last_cap") as f:
        return int(f.read())


def sandbox_path() -> str:
    """PATH in a sandbox: this interpreter's `bin` directories first, wherever they are
    (so that `python3` in a command or a program is the one function cases run on, a
    virtualenv's before its base's), then the system's; each directory once."""
    python_bins = [os.path.join(p, "bin") for p in _python_prefixes()]
    return ":".join(dict.fromkeys(python_bins + SANDBOX_PATH.split(":")))


def sandbox_environment() -> dict[str, str]:
    """The whole environment user code sees: nothing of the service's own."""
    return {
        "PATH": sandbox_path(),
        "HOME": "/tmp",
        "TMPDIR": "/tmp",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
    }


# --- the recipe ----------------------------------------------------------------------

@dataclass(frozen=True)
class Target:
    """What a process is confined into.

    Attributes:
        uid: The sandbox user.
        limits: The rlimits (a template's are the ceiling of its units').
        cap_last: The highest capability number this kernel knows.
        tmp_size_mb: The size of the sandbox's private /tmp.
        template_uid: Confine a template: real and saved uid `template_uid`, effective uid
            `uid`. It then acts (opens files, forks) as the sandbox user, and each unit it
            forks can drop the saved uid and be the sandbox user alone; but no process of
            the sandbox user can signal it (kill(2) matches the sender's uid against the
            target's real and saved uids) or trace it or open its /proc entries (ptrace
            access needs all three to match; `hidepid=2` hides it for the same reason).
    """

    uid: int
    limits: Limits
    cap_last: int
    tmp_size_mb: int = 16
    template_uid: int | None = None


@dataclass(frozen=True)
class Step:
    """One step of the recipe: what it does, and what a machine that refuses it lacks."""

    name: str
    needs: str
    act: Callable[[Target], None]


class StepFailed(OSError):
    """A step of the recipe failed; the process must not run user code."""

    def __init__(self, step: Step, cause: OSError | ValueError) -> None:
        self.reason = (cause.strerror if isinstance(cause, OSError) else None) or str(cause)
        super().__init__(getattr(cause, "errno", None), f"{step.name}: {self.reason}")
        self.step = step


def _namespaces(target: Target) -> None:
    libc.unshare(libc.CLONE_NEWNS | libc.CLONE_NEWNET | libc.CLONE_NEWIPC | libc.CLONE_NEWUTS)
    socket.sethostname("sandbox")
    libc.mount(None, "/", None, libc.MS_REC | libc.MS_PRIVATE)  # no mount propagates out


def _proc(target: Target) -> None:
    """The caller is pid 1 of a fresh pid namespace, so this /proc shows only the sandbox's
    own processes; `hidepid=2` hides even the init (root) from user code. The init is
    also made the last choice of the OOM killer: when the sandbox's memory cgroup is full,
    the process to kill is the user's, not the one that reports."""
    libc.mount("proc", "/proc", "proc", libc.MS_NOSUID | libc.MS_NODEV | libc.MS_NOEXEC, "hidepid=2")
    set_oom_score_adj(-1000)


def _scratch(target: Target) -> None:
    flags = libc.MS_NOSUID | libc.MS_NODEV
    libc.mount("tmpfs", "/tmp", "tmpfs", flags, f"size={target.tmp_size_mb}m,mode=1777")
    libc.mount("tmpfs", "/dev/shm", "tmpfs", flags | libc.MS_NOEXEC, "size=16m,mode=1777")


def _limits(target: Target) -> None:
    set_limits(target.limits)
    if target.template_uid is None:
        set_oom_score_adj(500)  # user code first in line for the OOM killer; it cannot lower this


def _no_new_privs(target: Target) -> None:
    """No exec can ever give privilege back: setuid binaries and file capabilities are inert."""
    libc.prctl(libc.PR_SET_NO_NEW_PRIVS, 1)


def _capabilities(target: Target) -> None:
    for cap in range(target.cap_last + 1):
        libc.prctl(libc.PR_CAPBSET_DROP, cap)


def _identity(target: Target) -> None:
    """The uid change also clears the permitted, effective and ambient capabilities."""
    uid = target.uid
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    real = uid if target.template_uid is None else target.template_uid
    os.setresuid(real, uid, real)
    if os.getresuid() != (real, uid, real) or os.getresgid() != (uid, uid, uid):
        raise OSError(1, "the uid change did not take")
    if target.template_uid is not None:
        # The uid change left it not dumpable; dumpable again, its units inherit that and
        # are ordinary processes to themselves and their children (/proc, hidepid). The
        # template stays out of their reach all the same: ptrace and /proc access need its
        # real and saved uid to match theirs, and they do not.
        libc.prctl(libc.PR_SET_DUMPABLE, 1)


def _seccomp(target: Target) -> None:
    try:
        seccomp.install()
    except seccomp.Unavailable as exc:
        raise OSError(exc.errno, f"{exc.strerror} (pip install -r requirements.txt; "
                                 "apt-get install libseccomp2)") from exc


SANDBOX_STEPS: tuple[Step, ...] = (
    Step("namespaces", "permission to create mount, net, ipc and uts namespaces and make mounts private "
         "(needs CAP_SYS_ADMIN)", _namespaces),
    Step("proc", "permission to mount a fresh /proc (the kernel refuses it while parts of the existing /proc "
         "are masked, as in a default Docker container: run it with --security-opt systempaths=unconfined)",
         _proc),
    Step("scratch", "permission to mount in a private mount namespace (needs CAP_SYS_ADMIN and no "
         "AppArmor/SELinux rule against mount)", _scratch),
)
PROCESS_STEPS: tuple[Step, ...] = (
    Step("limits", "permission to set resource limits", _limits),
    Step("no_new_privs", "PR_SET_NO_NEW_PRIVS (Linux 3.5 or later)", _no_new_privs),
    Step("capabilities", "permission to drop capabilities from the bounding set (needs CAP_SETPCAP)",
         _capabilities),
    Step("identity", "permission to switch to the sandbox uid (needs CAP_SETUID and CAP_SETGID)", _identity),
    Step("seccomp", "seccomp filters (the kernel needs CONFIG_SECCOMP_FILTER)", _seccomp),
)
RECIPE = SANDBOX_STEPS + PROCESS_STEPS


def contain(steps: tuple[Step, ...], target: Target) -> None:
    """Run `steps` in order, stopping at the first that fails.

    Raises:
        StepFailed: naming the step; the caller must not run user code.
    """
    for step in steps:
        try:
            step.act(target)
        except (OSError, ValueError) as exc:  # setrlimit says ValueError
            raise StepFailed(step, exc) from exc


def drop_privileges(uid: int, limits: Limits, cap_last: int) -> None:
    """Make the current process the sandbox user for good (the confinement benchmark's
    stand-in for a unit)."""
    contain(PROCESS_STEPS, Target(uid=uid, limits=limits, cap_last=cap_last))
