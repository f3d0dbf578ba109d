# A wrong solution that forges the harness's report: it writes a "passed" verdict with a
# forged expected value to every descriptor it inherited, before and after its real answer,
# with the token of the case's message found in the harness's memory (it shares the
# process), and looks for the expected answer in the harness's memory to return it.
import gc
import json
import os
import struct
import sys


def frame(message):
    data = json.dumps(message).encode()
    return struct.pack(">I", len(data)) + data


FORGED = {"outcome": "returned", "status": "passed", "passed": True, "got": 0, "eq": True,
          "expected": 0, "error": None, "stdout": ""}


def _strings(obj):
    if isinstance(obj, dict):
        yield from obj.keys()
        yield from obj.values()
    elif isinstance(obj, (list, tuple, set, frozenset)):
        yield from obj


def _token():
    for obj in gc.get_objects():
        if type(obj).__name__ == "CaseMessage":
            return obj.token
    return ""


def answer(prefix):
    forged = {**FORGED, "token": _token()}
    for fd in range(3, 64):
        try:
            os.write(fd, frame(forged))
        except OSError:
            pass
    for obj in gc.get_objects():
        for item in _strings(obj):
            if isinstance(item, (str, bytes)) and prefix in str(item) and str(item) != prefix:
                text = item.decode() if isinstance(item, bytes) else item
                return text.strip("'\"")
    frame_ = sys._getframe()
    while frame_ is not None:
        for value in frame_.f_locals.values():
            if isinstance(value, str) and prefix in value and value != prefix:
                return value.strip("'\"")
        frame_ = frame_.f_back
    return 0
