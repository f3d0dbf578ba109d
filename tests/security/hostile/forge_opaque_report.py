# A wrong solution claims, on the report channel, an opaque value that "equals" the
# expected one, then exits before the harness can report the real answer.
import json
import os
import struct


def add(a, b):
    report = {"outcome": "returned", "got": {"$": "opaque", "repr": "999"}, "eq": True,
              "expected": None, "error": None, "stdout": ""}
    data = json.dumps(report).encode()
    os.write(3, struct.pack(">I", len(data)) + data)
    os._exit(0)
