# Case 0 leaves signal handlers and timers behind: a SIGALRM/SIGVTALRM handler that writes a
# forged passing report (with the token of whatever case is running, found in memory) to the
# report pipe, timers to fire it during later cases, and a SIGXCPU handler that ignores the
# CPU limit. Later cases spin, then return a wrong value. f(k) must return k * 10.
import gc
import json
import os
import signal
import struct


def _forge(signum, frame):
    token = next((o.token for o in gc.get_objects() if type(o).__name__ == "CaseMessage"), "")
    report = {"outcome": "returned", "got": 0, "eq": True, "token": token}
    data = json.dumps(report).encode()
    try:
        os.write(3, struct.pack(">I", len(data)) + data)
    except OSError:
        pass


def _install():
    signal.signal(signal.SIGALRM, _forge)
    signal.signal(signal.SIGVTALRM, _forge)
    signal.signal(signal.SIGXCPU, signal.SIG_IGN)
    signal.setitimer(signal.ITIMER_REAL, 0.02, 0.02)
    signal.setitimer(signal.ITIMER_VIRTUAL, 0.02, 0.02)


def f(k):
    if k == 0:
        _install()
        return -1
    total = 0
    for i in range(2_000_000 if k < 3 else 10**12):
        total += i
    return -1
