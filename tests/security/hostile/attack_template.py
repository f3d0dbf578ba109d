# From inside a sandbox, go after every other process of its pid namespace (the init and
# the template that forks every case): find them, signal them, trace them, read their
# memory. Print what worked.
import ctypes
import os
import signal

me = os.getpid()
visible = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
done = []
libc = ctypes.CDLL(None, use_errno=True)
for pid in range(1, 200):
    if pid == me or pid == os.getppid():
        continue
    for sig in (0, signal.SIGSTOP, signal.SIGKILL):
        try:
            os.kill(pid, sig)
            done.append(f"kill {pid} {sig}")
        except OSError:
            pass
    try:
        with open(f"/proc/{pid}/mem", "rb") as f:
            f.read(1)
        done.append(f"mem {pid}")
    except OSError:
        pass
    if libc.ptrace(16, pid, None, None) == 0:  # PTRACE_ATTACH
        done.append(f"ptrace {pid}")
print("visible", visible)
print("done", done)
