"""Runs in: the supervisor (compiles the filter) and the template (installs it).

The seccomp filter for sandboxed code: an allowlist, compiled by libseccomp, installed by prctl.

The namespaces, the unprivileged uid and the empty capability sets already stop most of
what the kernel offers; the filter is the second wall, and it shrinks the kernel a
sandboxed program can reach to the system calls that Python, sh, coreutils and swipl use.
It is an allowlist in the spirit of Docker's default profile (moby `profiles/seccomp/
default.json`, the calls it allows without any capability), minus `WITHHELD`: a call the
kernel adds later, or one nobody listed, is denied without anyone having to think of it.
What the allowlist leaves out on purpose:

* creating a user namespace (`unshare`, `clone` with any `CLONE_NEW*` flag, `setns`), which
  gives back a full set of capabilities inside it and a much larger kernel attack surface;
* kernel interfaces with a long record of privilege escalations that no sandboxed program
  needs (`bpf`, `userfaultfd`, `perf_event_open`, `io_uring_*`, `keyctl`, the mount API...);
* reading or writing another process's memory or descriptors (`ptrace`,
  `process_vm_readv/writev`, `pidfd_getfd`, `process_madvise`, `kcmp`).

Answers. A call outside the list fails with EPERM, as in Docker: programs see an
ordinary error, not a crash. Two kinds fail with ENOSYS instead, so that libc falls back
as it does on an older kernel: `clone3`, whose flags live in memory a seccomp filter
cannot read (glibc then uses `clone`, whose flags the filter checks), and every number
past the newest system call this list knows (`NEWEST`), which a later kernel may give to
a call a later glibc tries first (runc does the same). Calls through the x32 ABI (x86_64
numbers with bit 30 set) and calls of any other architecture (`int 0x80` from a 64-bit
process) match no rule of the native table and get the bad-architecture action, EPERM
too: killing would end a thread of a multithreaded program half-way, and no program
needs to tell the two denials apart.

Cost. libseccomp builds the program once, when this module is imported (in the
supervisor, before the zygote forks); `install` is then one `prctl` of the ready bytes,
as cheap as the hand-assembled filter it replaced. The program is a binary tree on the
syscall number (`CTL_OPTIMIZE` 2), and since every allowed call but `clone`, `socket` and
`personality` is allowed whatever its arguments, the kernel (5.11+) caches those verdicts
in a bitmap and runs no filter for them at all.

libseccomp comes from PyPI's `pyseccomp` (ctypes over Debian's `libseccomp2`). The
caller must have set `PR_SET_NO_NEW_PRIVS` (or hold CAP_SYS_ADMIN). A filter is inherited
by every child and can never be removed. Only x86_64 and aarch64 are supported (other
architectures run without the filter, with a warning at start); without libseccomp,
`install` raises and the supervisor refuses to start (see `supervisor.isolation`).
"""

from __future__ import annotations

import ctypes
import errno
import platform
import tempfile
from dataclasses import dataclass

from supervisor.sandbox import libc

try:
    import pyseccomp
except (ImportError, RuntimeError) as _exc:  # RuntimeError: pyseccomp found no libseccomp.so.2
    pyseccomp = None
    _MISSING = f"libseccomp through pyseccomp ({_exc})"
else:
    _MISSING = ""

SECCOMP_MODE_FILTER = 2
X32_SYSCALL_BIT = 0x40000000

# Every namespace flag clone(2) accepts (Docker's mask), and CLONE_NEWTIME (0x80), which
# clone(2) reads as part of the exit signal but unshare(2) and clone3(2) take as a flag.
CLONE_NEW_ANY = (libc.CLONE_NEWNS | libc.CLONE_NEWCGROUP | libc.CLONE_NEWUTS | libc.CLONE_NEWIPC
                 | libc.CLONE_NEWUSER | libc.CLONE_NEWPID | libc.CLONE_NEWNET | 0x00000080)

AF_ALG = 38    # the kernel's crypto API as sockets: a record of bugs, no use here (Docker denies it)
AF_VSOCK = 40  # sockets to the hypervisor (Docker denies it)
# personality(2) values Docker allows: PER_LINUX, PER_LINUX32, UNAME26, both, and the query.
PERSONALITIES = (0x0, 0x8, 0x20000, 0x20008, 0xFFFFFFFF)

# The newest system call this list was checked against: file_setattr (469), Linux 6.17,
# still the last one in 6.18. Numbers after it up to FUTURE_END answer ENOSYS.
NEWEST = 469
FUTURE_END = 511  # x86_64 and the generic table leave 512 and up unused (x32 starts there)

# Docker's unconditional allowlist as of moby's vendored profile (2026), without the calls
# that exist only on 32-bit ABIs (this filter admits none) and without WITHHELD.
ALLOWED = (
    "accept", "accept4", "access", "adjtimex", "alarm", "arch_prctl", "bind", "brk", "cachestat",
    "capget", "capset", "chdir", "chmod", "chown", "clock_adjtime", "clock_getres", "clock_gettime",
    "clock_nanosleep", "close", "close_range", "connect", "copy_file_range", "creat",
    "dup", "dup2", "dup3", "epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old",
    "epoll_pwait", "epoll_pwait2", "epoll_wait", "epoll_wait_old", "eventfd", "eventfd2",
    "execve", "execveat", "exit", "exit_group", "faccessat", "faccessat2", "fadvise64",
    "fallocate", "fchdir", "fchmod", "fchmodat", "fchmodat2", "fchown", "fchownat", "fcntl",
    "fdatasync", "fgetxattr", "flistxattr", "flock", "fork", "fremovexattr", "fsetxattr",
    "fstat", "fstatfs", "fsync", "ftruncate", "futex", "futex_requeue", "futex_wait",
    "futex_waitv", "futex_wake", "futimesat", "getcpu", "getcwd", "getdents", "getdents64",
    "getegid", "geteuid", "getgid", "getgroups", "getitimer", "getpeername", "getpgid",
    "getpgrp", "getpid", "getppid", "getpriority", "getrandom", "getresgid", "getresuid",
    "getrlimit", "get_robust_list", "getrusage", "getsid", "getsockname", "getsockopt",
    "get_thread_area", "gettid", "gettimeofday", "getuid", "getxattr", "getxattrat",
    "inotify_add_watch", "inotify_init", "inotify_init1", "inotify_rm_watch",
    "io_cancel", "ioctl", "io_destroy", "io_getevents", "io_pgetevents", "ioprio_get",
    "ioprio_set", "io_setup", "io_submit", "kill", "lchown", "lgetxattr", "link", "linkat",
    "listen", "listxattr", "listxattrat", "llistxattr", "lremovexattr", "lseek", "lsetxattr",
    "lstat", "madvise", "map_shadow_stack", "membarrier", "memfd_create", "mincore", "mkdir",
    "mkdirat", "mknod", "mknodat", "mlock", "mlock2", "mlockall", "mmap", "mprotect",
    "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive", "mq_timedsend", "mq_unlink",
    "mremap", "mseal", "msgctl", "msgget", "msgrcv", "msgsnd", "msync", "munlock",
    "munlockall", "munmap", "nanosleep", "newfstatat", "open", "openat", "openat2", "pause",
    "pidfd_open", "pidfd_send_signal", "pipe", "pipe2", "pkey_alloc", "pkey_free",
    "pkey_mprotect", "poll", "ppoll", "prctl", "pread64", "preadv", "preadv2", "prlimit64",
    "process_mrelease", "pselect6", "pwrite64", "pwritev", "pwritev2", "read", "readahead",
    "readlink", "readlinkat", "readv", "recvfrom", "recvmmsg", "recvmsg", "remap_file_pages",
    "removexattr", "removexattrat", "rename", "renameat", "renameat2", "restart_syscall",
    "rmdir", "rseq", "rt_sigaction", "rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo",
    "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait", "rt_tgsigqueueinfo",
    "sched_getaffinity", "sched_getattr", "sched_getparam", "sched_get_priority_max",
    "sched_get_priority_min", "sched_getscheduler", "sched_rr_get_interval",
    "sched_setaffinity", "sched_setattr", "sched_setparam", "sched_setscheduler",
    "sched_yield", "seccomp", "select", "semctl", "semget", "semop", "semtimedop", "sendfile",
    "sendmmsg", "sendmsg", "sendto", "setfsgid", "setfsuid", "setgid", "setgroups",
    "setitimer", "setpgid", "setpriority", "setregid", "setresgid", "setresuid", "setreuid",
    "setrlimit", "set_robust_list", "setsid", "setsockopt", "set_thread_area",
    "set_tid_address", "setuid", "setxattr", "setxattrat", "shmat", "shmctl", "shmdt",
    "shmget", "shutdown", "sigaltstack", "signalfd", "signalfd4", "socketpair", "splice",
    "stat", "statfs", "statx", "symlink", "symlinkat", "sync", "sync_file_range", "syncfs",
    "sysinfo", "tee", "tgkill", "time", "timer_create", "timer_delete", "timer_getoverrun",
    "timer_gettime", "timer_settime", "timerfd_create", "timerfd_gettime", "timerfd_settime",
    "times", "tkill", "truncate", "umask", "uname", "unlink", "unlinkat", "utime", "utimensat",
    "utimes", "vfork", "vmsplice", "wait4", "waitid", "write", "writev",
)

# What Docker's profile allows without capabilities and this one does not, and why.
WITHHELD = {
    "ptrace": "another process's memory; Docker allows it on 4.8+, the sandbox's processes share a uid",
    "process_vm_readv": "another process's memory (as ptrace)",
    "process_vm_writev": "another process's memory (as ptrace)",
    "landlock_create_ruleset": "new kernel code no program here needs",
    "landlock_add_rule": "new kernel code no program here needs",
    "landlock_restrict_self": "new kernel code no program here needs",
    "memfd_secret": "memory hidden from the kernel's direct map; new code, no use here",
    "name_to_handle_at": "the half of open_by_handle_at (the 'shocker' escape) that needs no capability",
    "fanotify_mark": "useless without fanotify_init, which needs CAP_SYS_ADMIN",
    "listmount": "the mount tree; new code (6.8), /proc/self/mountinfo already answers",
    "statmount": "the mount tree; new code (6.8), /proc/self/mountinfo already answers",
    "modify_ldt": "16-bit segments, a record of bugs, needed by no 64-bit program here",
    "uretprobe": "called only from the kernel's uprobe trampolines; seccomp cannot stop it (see PASSED_THROUGH)",
    "uprobe": "called only from the kernel's uprobe trampolines; seccomp cannot stop it (see PASSED_THROUGH)",
}

# x86_64 calls the kernel runs before any seccomp filter (6.14+): uretprobe (335) and
# uprobe (336) only act when called from a trampoline the kernel put in place for a probe
# that root attached, and fail (SIGILL, ENXIO) anywhere else.
PASSED_THROUGH = (335, 336)

# Calls with rules of their own (see _add_rules); the rest of their uses fall to the default.
CONDITIONAL = ("clone", "clone3", "socket", "personality")

# Numbers for names the installed libseccomp may not know (2.5.4 knows up to 456): since
# Linux 5.1 new calls have one number on every architecture but alpha and mips.
UNIFIED = {"listmount": 458, "statmount": 457, "mseal": 462, "setxattrat": 463, "getxattrat": 464,
           "listxattrat": 465, "removexattrat": 466}


@dataclass(frozen=True)
class Arch:
    """An architecture the filter supports: its name and its audit number (libseccomp's token)."""

    name: str
    token: int


X86_64 = Arch("x86_64", 0xC000003E)
AARCH64 = Arch("aarch64", 0xC00000B7)
ARCHES = {"x86_64": X86_64, "amd64": X86_64, "aarch64": AARCH64, "arm64": AARCH64}


class Unavailable(OSError):
    """libseccomp is missing: the filter cannot be built, and sandboxes must not run without it."""


def current_arch() -> Arch | None:
    """The architecture of this machine, or None when it is not supported (the filter is then skipped)."""
    return ARCHES.get(platform.machine().lower())


def number(name: str) -> int | None:
    """The system call `name`'s number on this machine, None when it has no such call."""
    if pyseccomp is None:
        raise Unavailable(errno.ENOSYS, _MISSING)
    found = pyseccomp.resolve_syscall(pyseccomp.Arch.NATIVE, name)
    if found < 0:  # -1: unknown to libseccomp; below -1: a call of other architectures only
        return UNIFIED.get(name) if found == -1 else None
    return found


def allowed_numbers() -> set[int]:
    """The numbers `ALLOWED` resolves to here (what tests check the filter against)."""
    return {n for n in map(number, ALLOWED) if n is not None}


def build() -> bytes:
    """Compile the filter for this machine: a sequence of `struct sock_filter`.

    Raises:
        Unavailable: libseccomp is not installed.
        OSError: libseccomp refused a rule.
    """
    if pyseccomp is None:
        raise Unavailable(errno.ENOSYS, _MISSING)
    rules = pyseccomp.SyscallFilter(pyseccomp.ERRNO(errno.EPERM))
    rules.set_attr(pyseccomp.Attr.ACT_BADARCH, pyseccomp.ERRNO(errno.EPERM))
    rules.set_attr(pyseccomp.Attr.CTL_OPTIMIZE, 2)  # a binary tree on the number, not a list
    _add_rules(rules)
    with tempfile.TemporaryFile() as out:
        rules.export_bpf(out)
        out.seek(0)
        return out.read()


def _add_rules(rules: pyseccomp.SyscallFilter) -> None:
    """The allowlist, the argument checks of `CONDITIONAL`, and ENOSYS past `NEWEST`."""
    allow, enosys = pyseccomp.ALLOW, pyseccomp.ERRNO(errno.ENOSYS)
    for n in sorted(allowed_numbers()):
        rules.add_rule(allow, n)
    rules.add_rule(allow, number("clone"), pyseccomp.Arg(0, pyseccomp.MASKED_EQ, CLONE_NEW_ANY, 0))
    rules.add_rule(enosys, number("clone3"))
    socket = number("socket")
    rules.add_rule(allow, socket, pyseccomp.Arg(0, pyseccomp.LT, AF_ALG))
    rules.add_rule(allow, socket, pyseccomp.Arg(0, pyseccomp.EQ, AF_ALG + 1))
    rules.add_rule(allow, socket, pyseccomp.Arg(0, pyseccomp.GT, AF_VSOCK))
    for value in PERSONALITIES:
        rules.add_rule(allow, number("personality"), pyseccomp.Arg(0, pyseccomp.EQ, value))
    for n in range(NEWEST + 1, FUTURE_END + 1):
        rules.add_rule(enosys, n)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def _compile() -> tuple[bytes | None, str]:
    """The program for this machine, or None and why not (reported when a sandbox needs it)."""
    if _ARCH is None or pyseccomp is None:
        return None, _MISSING
    try:
        return build(), ""
    except OSError as exc:
        return None, f"a seccomp filter from libseccomp ({exc})"


_ARCH = current_arch()
_PROGRAM, _MISSING = _compile()


def program() -> bytes:
    """The compiled filter, for a zygote that cannot compile it (`use`); empty when there
    is none on this machine (an unsupported architecture, or no libseccomp)."""
    return _PROGRAM or b""


def use(compiled: bytes) -> None:
    """Install `compiled` (from `program` in the supervisor) from now on: the zygote may run
    on an interpreter without libseccomp's bindings (REPL_SANDBOX_PYTHON)."""
    global _PROGRAM
    if compiled:
        _PROGRAM = compiled


def available() -> bool:
    """Whether `install` will filter anything (a supported architecture and libseccomp)."""
    return _PROGRAM is not None


def install() -> bool:
    """Install the filter on the calling thread (and everything it will start).

    Returns False, doing nothing, on an architecture without support; the supervisor
    logs that at start (see `supervisor.isolation`).

    Raises:
        Unavailable: libseccomp is not installed (on a supported architecture).
        OSError: the kernel refused the filter (no seccomp support, or neither
            no-new-privs nor CAP_SYS_ADMIN).
    """
    if _ARCH is None:
        return False
    if _PROGRAM is None:
        raise Unavailable(errno.ENOSYS, _MISSING)
    buffer = ctypes.create_string_buffer(_PROGRAM, len(_PROGRAM))
    prog = _SockFprog(len(_PROGRAM) // 8, ctypes.cast(buffer, ctypes.c_void_p))
    libc.prctl(libc.PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.cast(ctypes.pointer(prog), ctypes.c_void_p))
    return True
