# Case 0 leaves a process whose main thread has exited while another thread goes on
# (it looks like a zombie in /proc/<pid>/stat), appending to a session file; every later
# case measures whether the file still grows.
import ctypes
import os
import threading
import time


def _append_forever():
    while True:
        with open("survivor.txt", "a") as f:
            f.write("x")
        time.sleep(0.002)


def spawn_or_watch(index):
    if index == 0:
        if os.fork() == 0:
            threading.Thread(target=_append_forever).start()
            time.sleep(0.05)
            ctypes.CDLL(None).syscall(60, 0)  # SYS_exit: ends this thread only
        time.sleep(0.2)
        return "spawned"
    before = os.path.getsize("survivor.txt")
    time.sleep(0.1)
    return os.path.getsize("survivor.txt") - before
