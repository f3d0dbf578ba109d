# Case 0 leaves a detached process that keeps appending to a session file; every later
# case measures whether the file still grows and lists the processes it can see but its
# own and its parent (in `isolation: "case"`, the unit).
import os
import time


def spawn_or_watch(index):
    if index == 0:
        child = os.fork()
        if child == 0:
            os.setsid()
            if os.fork() == 0:
                while True:
                    with open("growing.txt", "a") as f:
                        f.write("x")
                    time.sleep(0.002)
            os._exit(0)
        os.waitpid(child, 0)  # reaped: the writer is the init's orphan, no zombie is left behind
        time.sleep(0.05)
        return "spawned"
    before = os.path.getsize("growing.txt")
    time.sleep(0.1)
    after = os.path.getsize("growing.txt")
    others = sorted(int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) not in (os.getpid(), os.getppid()))
    return after - before, others
