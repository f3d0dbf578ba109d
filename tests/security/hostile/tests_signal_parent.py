# A wrong solution (its answer is 0) that signals the tests' process, its parent, hoping a
# signal turns into an exception a test catches (SIGINT as KeyboardInterrupt) or stops it
# at a moment that helps. `f(how)`: a signal name, "SIGSTOP+SIGCONT", or "group-SIGINT"
# (to its whole process group).
import os
import signal
import time


def f(how):
    parent = os.getppid()
    if how == "SIGSTOP+SIGCONT":
        os.kill(parent, signal.SIGSTOP)
        time.sleep(0.3)
        os.kill(parent, signal.SIGCONT)
    elif how == "group-SIGINT":
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # itself unharmed
        os.killpg(0, signal.SIGINT)
    else:
        os.kill(parent, getattr(signal, how))
    time.sleep(0.5)  # let it arrive while the tests wait for the answer
    return 0
