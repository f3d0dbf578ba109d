# A wrong solution claims, on the report channel, an opaque value that "equals" the
# expected one, then exits before the harness can report the real answer. It answers with
# the token of the case's message, found in the harness's memory (it shares the process).
import gc
import json
import os
import struct


def add(a, b):
    token = next((o.token for o in gc.get_objects() if type(o).__name__ == "CaseMessage"), "")
    report = {"outcome": "returned", "got": {"$": "opaque", "repr": "999"}, "eq": True,
              "expected": None, "error": None, "stdout": "", "token": token}
    data = json.dumps(report).encode()
    os.write(3, struct.pack(">I", len(data)) + data)
    os._exit(0)
