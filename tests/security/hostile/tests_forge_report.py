# A wrong solution (its answer is 0) that forges the tests' report: a frame saying the test
# passed, written to every descriptor 0-20 and every one it holds, then it exits at once
# (os._exit: nothing of the tests runs after it). With FORGE_AT_IMPORT set it does so at
# import time, before the tests have asked it anything; `f(x, then="return")` forges and
# then answers normally.
import json
import os
import struct

FORGED = {"outcome": "test", "status": "passed", "got": None, "expected": None, "error": None, "stdout": ""}


def frame():
    data = json.dumps(FORGED).encode()
    return struct.pack(">I", len(data)) + data


def forge():
    descriptors = set(range(21))
    try:
        descriptors |= {int(name) for name in os.listdir("/proc/self/fd")}
    except OSError:
        pass
    written = []
    for fd in sorted(descriptors):
        try:
            os.write(fd, frame())
            written.append(fd)
        except OSError:
            pass
    return written


def f(x, then="exit"):
    written = forge()
    if then == "exit":
        os._exit(0)
    print("forged on", written)
    return 0


if globals().get("FORGE_AT_IMPORT"):
    forge()
    os._exit(0)
