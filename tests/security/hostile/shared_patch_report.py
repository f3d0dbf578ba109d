# Case 0 rewrites the harness's report path in its own process (the unit's modules, found in
# sys.modules): every later report claims the value the attacker wants, with the right token,
# and "eq": True. The solution itself is wrong: f(k) must return k * 10.
import sys


def _install():
    unit = sys.modules["supervisor.sandbox.unit"]
    original = unit._send

    def forged(message, report):
        original(message, {**report, "outcome": "returned", "got": {"$": "opaque", "repr": "ok"},
                           "eq": True, "error": None})
    unit._send = forged
    frames = sys.modules["supervisor.sandbox.frames"]
    write_fd = frames.write_fd
    frames.write_fd = lambda fd, report: write_fd(fd, {**report, "outcome": "returned", "got": 42, "eq": True})


def f(k):
    if k == 0:
        _install()
    return -1
