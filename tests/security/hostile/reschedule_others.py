# From inside a sandbox, change how the scheduler treats every other process of the pid
# namespace: the lowest CPU priority (nice 19, SCHED_IDLE) and one CPU. The template and
# its spare unit run with the sandbox user's effective uid, which is all these calls
# check; whatever they inherit from the template, later jobs would inherit too.
import os

me = os.getpid()
changed = []
for pid in range(1, 200):
    if pid == me:
        continue
    for name, call in (("nice", lambda p: os.setpriority(os.PRIO_PROCESS, p, 19)),
                       ("idle", lambda p: os.sched_setscheduler(p, os.SCHED_IDLE, os.sched_param(0))),
                       ("affinity", lambda p: os.sched_setaffinity(p, {min(os.sched_getaffinity(0))}))):
        try:
            call(pid)
            changed.append(f"{name} {pid}")
        except OSError:
            pass
print("changed", changed)


def f():
    return changed
