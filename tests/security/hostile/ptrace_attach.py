# Attack: attach to a process with ptrace (our own child, which shares our uid; and pid 1, the
# sandbox's init, and our parent), and read another process's memory with process_vm_readv.
import ctypes
import os
import platform
import subprocess

libc = ctypes.CDLL(None, use_errno=True)
PTRACE_ATTACH = 16
child = subprocess.Popen(["sleep", "30"])
for pid in (child.pid, 1, os.getppid()):
    r = libc.ptrace(PTRACE_ATTACH, pid, 0, 0)
    print("ptrace attach", pid, r, os.strerror(ctypes.get_errno()))
SYS_PROCESS_VM_READV = {"x86_64": 310, "aarch64": 270}[platform.machine()]
r = libc.syscall(SYS_PROCESS_VM_READV, child.pid, 0, 0, 0, 0, 0)
print("process_vm_readv", r, os.strerror(ctypes.get_errno()))
child.kill()
