"""A seccomp filter for sandboxed code: classic BPF, written by hand, installed through prctl.

The namespaces, the unprivileged uid and the empty capability sets already stop most of
what this filter denies; the filter is the second wall, and it closes what the first one
leaves open to an unprivileged user:

* creating a user namespace (`unshare(CLONE_NEWUSER)`, `clone(CLONE_NEWUSER)`), which gives
  back a full set of capabilities inside it and a much larger kernel attack surface;
* kernel interfaces with a long record of privilege escalations that no sandboxed program
  needs (`bpf`, `userfaultfd`, `perf_event_open`, `io_uring_*`, `keyctl`, ...);
* reading or writing another process's memory (`ptrace`, `process_vm_readv/writev`).

Denied calls fail with EPERM, so programs see an ordinary error rather than a crash.
`clone3` fails with ENOSYS: its flags live in memory a classic BPF filter cannot read, and
ENOSYS makes glibc fall back to `clone`, whose flags the filter does check. Calls through
the x32 ABI (x86_64 syscall numbers with bit 30 set) and calls of any other architecture
(`int 0x80` from a 64-bit process) are denied as a whole, so no second syscall table can
slip around the first.

No dependency: the program is assembled here and installed with
`prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog)`. The caller must have set
`PR_SET_NO_NEW_PRIVS` (or hold CAP_SYS_ADMIN). A filter is inherited by every child and
can never be removed.
"""

from __future__ import annotations

import ctypes
import errno
import platform
import struct
from dataclasses import dataclass

from supervisor.sandbox import libc

SECCOMP_MODE_FILTER = 2

SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_RET_ERRNO = 0x00050000

# Classic BPF opcodes (linux/filter.h).
BPF_LD_W_ABS = 0x20   # BPF_LD | BPF_W | BPF_ABS
BPF_JEQ_K = 0x15      # BPF_JMP | BPF_JEQ | BPF_K
BPF_JGE_K = 0x35      # BPF_JMP | BPF_JGE | BPF_K
BPF_JSET_K = 0x45     # BPF_JMP | BPF_JSET | BPF_K
BPF_RET_K = 0x06      # BPF_RET | BPF_K

# struct seccomp_data: int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6].
OFFSET_NR = 0
OFFSET_ARCH = 4
OFFSET_ARG0_LOW = 16  # little-endian: the low 32 bits of args[0] come first

X32_SYSCALL_BIT = 0x40000000

# Every namespace flag clone(2) accepts; CLONE_NEWTIME (0x80) included.
CLONE_NEW_ANY = (libc.CLONE_NEWNS | libc.CLONE_NEWCGROUP | libc.CLONE_NEWUTS | libc.CLONE_NEWIPC
                 | libc.CLONE_NEWUSER | libc.CLONE_NEWPID | libc.CLONE_NEWNET | 0x00000080)

DENIED = (
    "unshare", "setns", "mount", "umount2", "pivot_root", "chroot",
    "open_tree", "move_mount", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
    "ptrace", "process_vm_readv", "process_vm_writev",
    "bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register",
    "keyctl", "add_key", "request_key",
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
    "open_by_handle_at", "name_to_handle_at",
    "swapon", "swapoff", "reboot", "acct", "quotactl", "quotactl_fd", "syslog",
)


@dataclass(frozen=True)
class Arch:
    """One architecture's audit number and syscall numbers."""

    name: str
    audit: int
    numbers: dict[str, int]
    x32_bit: bool  # x86_64 also accepts x32 calls, marked by X32_SYSCALL_BIT


X86_64 = Arch("x86_64", 0xC000003E, {
    "unshare": 272, "setns": 308, "mount": 165, "umount2": 166, "pivot_root": 155, "chroot": 161,
    "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432,
    "fspick": 433, "mount_setattr": 442,
    "ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311,
    "bpf": 321, "perf_event_open": 298, "userfaultfd": 323,
    "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
    "keyctl": 250, "add_key": 248, "request_key": 249,
    "kexec_load": 246, "kexec_file_load": 320, "init_module": 175, "finit_module": 313,
    "delete_module": 176, "open_by_handle_at": 304, "name_to_handle_at": 303,
    "swapon": 167, "swapoff": 168, "reboot": 169, "acct": 163, "quotactl": 179,
    "quotactl_fd": 443, "syslog": 103,
    "clone": 56, "clone3": 435,
}, x32_bit=True)

# aarch64 uses the generic table (asm-generic/unistd.h).
AARCH64 = Arch("aarch64", 0xC00000B7, {
    "unshare": 97, "setns": 268, "mount": 40, "umount2": 39, "pivot_root": 41, "chroot": 51,
    "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432,
    "fspick": 433, "mount_setattr": 442,
    "ptrace": 117, "process_vm_readv": 270, "process_vm_writev": 271,
    "bpf": 280, "perf_event_open": 241, "userfaultfd": 282,
    "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
    "keyctl": 219, "add_key": 217, "request_key": 218,
    "kexec_load": 104, "kexec_file_load": 294, "init_module": 105, "finit_module": 273,
    "delete_module": 106, "open_by_handle_at": 265, "name_to_handle_at": 264,
    "swapon": 224, "swapoff": 225, "reboot": 142, "acct": 89, "quotactl": 60,
    "quotactl_fd": 443, "syslog": 116,
    "clone": 220, "clone3": 435,
}, x32_bit=False)

ARCHES = {"x86_64": X86_64, "amd64": X86_64, "aarch64": AARCH64, "arm64": AARCH64}


def current_arch() -> Arch | None:
    """The table for this machine, or None when there is none (the filter is then skipped)."""
    return ARCHES.get(platform.machine().lower())


class _Program:
    """A list of BPF instructions with forward jumps to named labels."""

    def __init__(self) -> None:
        self.code: list[tuple[int, object, object, int]] = []
        self.labels: dict[str, int] = {}

    def load(self, offset: int) -> None:
        self.code.append((BPF_LD_W_ABS, 0, 0, offset))

    def jump(self, op: int, k: int, true: str | int, false: str | int = 0) -> None:
        """Jump to label `true` if the test holds, else to `false` (0: the next instruction)."""
        self.code.append((op, true, false, k))

    def ret(self, value: int) -> None:
        self.code.append((BPF_RET_K, 0, 0, value))

    def label(self, name: str) -> None:
        self.labels[name] = len(self.code)

    def assemble(self) -> bytes:
        out = bytearray()
        for index, (op, true, false, k) in enumerate(self.code):
            jt = self._offset(index, true)
            jf = self._offset(index, false)
            out += struct.pack("=HBBI", op, jt, jf, k)
        return bytes(out)

    def _offset(self, index: int, target: object) -> int:
        if isinstance(target, int):
            return target
        distance = self.labels[str(target)] - index - 1
        if not 0 <= distance <= 255:
            raise ValueError(f"BPF jump to {target} out of range ({distance})")
        return distance


def build(arch: Arch) -> bytes:
    """Assemble the filter for `arch`: a sequence of `struct sock_filter`."""
    p = _Program()
    p.load(OFFSET_ARCH)
    p.jump(BPF_JEQ_K, arch.audit, 0, "deny")
    p.load(OFFSET_NR)
    if arch.x32_bit:
        p.jump(BPF_JGE_K, X32_SYSCALL_BIT, "deny")
    for name in DENIED:
        p.jump(BPF_JEQ_K, arch.numbers[name], "deny")
    p.jump(BPF_JEQ_K, arch.numbers["clone3"], "enosys")
    p.jump(BPF_JEQ_K, arch.numbers["clone"], "clone")
    p.ret(SECCOMP_RET_ALLOW)
    p.label("clone")
    p.load(OFFSET_ARG0_LOW)
    p.jump(BPF_JSET_K, CLONE_NEW_ANY, "deny")
    p.ret(SECCOMP_RET_ALLOW)
    p.label("deny")
    p.ret(SECCOMP_RET_ERRNO | errno.EPERM)
    p.label("enosys")
    p.ret(SECCOMP_RET_ERRNO | errno.ENOSYS)
    return p.assemble()


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


_ARCH = current_arch()
_PROGRAM = build(_ARCH) if _ARCH is not None else None


def available() -> bool:
    """Whether this architecture has a table, i.e. whether `install` will filter anything."""
    return _PROGRAM is not None


def install() -> bool:
    """Install the filter on the calling thread (and everything it will start).

    Returns False, doing nothing, on an architecture without a table; the supervisor
    logs that at start (see `supervisor.isolation`).

    Raises:
        OSError: the kernel refused the filter (no seccomp support, or neither
            no-new-privs nor CAP_SYS_ADMIN).
    """
    if _PROGRAM is None:
        return False
    buffer = ctypes.create_string_buffer(_PROGRAM, len(_PROGRAM))
    prog = _SockFprog(len(_PROGRAM) // 8, ctypes.cast(buffer, ctypes.c_void_p))
    libc.prctl(libc.PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.cast(ctypes.pointer(prog), ctypes.c_void_p))
    return True
