# A wrong solution (its answer is 0) for a check(candidate) test: when called it replaces
# `check` (in its own globals and its builtins), exits, or kills itself or the tests'
# process. It also defines a `check` of its own that accepts anything. `f(how)`.
import builtins
import os
import signal
import sys


def check(candidate):
    return None


def f(how):
    if how == "replace-check":
        globals()["check"] = lambda candidate: None
        builtins.check = lambda candidate: None
    elif how == "exit":
        os._exit(0)
    elif how == "sys-exit":
        sys.exit(0)
    elif how == "kill-self":
        os.kill(os.getpid(), signal.SIGKILL)
    elif how == "kill-parent":
        os.kill(os.getppid(), signal.SIGKILL)
    return 0
