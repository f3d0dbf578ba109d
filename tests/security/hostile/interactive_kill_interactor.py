# An interactive program that, instead of playing, signals every process it can (its
# interactor runs beside it as the same user): SIGSTOP when the interactor's first line
# says "stop", else SIGKILL; then it claims an answer.
import os
import signal
import sys

line = sys.stdin.readline()
which = signal.SIGSTOP if line.strip() == "stop" else signal.SIGKILL
for pid in [-1, *range(2, 4096)]:  # every process it may signal, and every pid (it cannot list them all)
    if pid != os.getpid():
        try:
            os.kill(pid, which)
        except OSError:
            pass
print("! 1", flush=True)
