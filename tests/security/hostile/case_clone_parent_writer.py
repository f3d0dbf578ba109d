# Case 0 starts, with clone(CLONE_PARENT), a process that is its own process's sibling (a
# child of whatever started the case's process, not of the case) and keeps appending to a
# session file; every later case measures whether the file still grows and lists the
# processes it can see but its own and its parent (in `isolation: "case"`, the unit).
import ctypes
import os
import signal
import time

CLONE_PARENT = 0x00008000
SYS_CLONE = 56  # x86_64


def spawn_or_watch(index):
    if index == 0:
        libc = ctypes.CDLL(None, use_errno=True)
        pid = libc.syscall(SYS_CLONE, CLONE_PARENT | signal.SIGCHLD, 0, 0, 0, 0)
        if pid == 0:
            while True:
                with open("growing.txt", "a") as f:
                    f.write("x")
                time.sleep(0.002)
        if pid < 0:
            return f"clone failed: {os.strerror(ctypes.get_errno())}"
        time.sleep(0.05)
        return "spawned"
    before = os.path.getsize("growing.txt")
    time.sleep(0.1)
    after = os.path.getsize("growing.txt")
    others = sorted(int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) not in (os.getpid(), os.getppid()))
    return after - before, others
