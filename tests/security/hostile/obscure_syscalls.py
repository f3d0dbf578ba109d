# Attack: call system calls the seccomp allowlist leaves out (new, obscure, or the classic
# escalation interfaces), through the x32 ABI and the i386 one (`int 0x80`), and sweep every
# number the filter does not allow. Prints one JSON object: label -> result (-errno on error).
#   argv[1]: JSON {label: [number, arg, ...]}: the calls to make
#   argv[2]: JSON [number, ...]: numbers to leave out of the sweep ("" for no sweep)
# A call that succeeds by mistake must do no harm: arguments are invalid or zero, and a
# raw clone that created a child has that child leave at once.
import ctypes
import json
import mmap
import os
import platform
import sys

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
X32_BIT = 0x40000000


def call(number, *args):
    result = libc.syscall(ctypes.c_long(number), *[ctypes.c_long(a) for a in args])
    if result == 0 and number in CLONES:
        os._exit(0)  # a clone the filter let through: the child leaves at once
    return -ctypes.get_errno() if result == -1 else result


def i386_getpid():
    """getpid through `int 0x80`: the i386 table, seen by seccomp as another architecture."""
    code = b"\xb8\x14\x00\x00\x00\xcd\x80\xc3"  # mov eax, 20 (getpid); int 0x80; ret
    page = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    page.write(code)
    function = ctypes.CFUNCTYPE(ctypes.c_int)(ctypes.addressof(ctypes.c_char.from_buffer(page)))
    return function()


probes = json.loads(sys.argv[1])
CLONES = {probes[k][0] for k in probes if k.startswith("clone")}
out = {label: call(*spec) for label, spec in probes.items()}
out["getpid"] = call(39 if platform.machine() == "x86_64" else 172)
if platform.machine() == "x86_64":
    out["x32_getpid"] = call(X32_BIT | 39)
    out["i386_getpid"] = i386_getpid()
if len(sys.argv) > 2 and sys.argv[2]:
    skip = set(json.loads(sys.argv[2]))
    for n in range(0, 600):
        if n not in skip:
            out[f"nr{n}"] = call(n, 0, 0, 0, 0, 0, 0)
    if platform.machine() == "x86_64":
        for n in range(0, 600):
            out[f"x32_{n}"] = call(X32_BIT | n, 0, 0, 0, 0, 0, 0)
print(json.dumps(out))
