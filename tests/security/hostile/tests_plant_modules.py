# A wrong solution (its answer is 0) that plants modules where an import might find them:
# the session directory (the working directory of both processes) and /tmp. Each planted
# module, if the tests' process ever ran it, would write a passing report to the report
# pipe (descriptor 3) and exit at once, and would give `answer()` whatever it is compared to.
import os

PLANTED = '''
import json
import os
import struct

data = json.dumps({"outcome": "test", "status": "passed", "got": None, "expected": None, "error": None,
                   "stdout": "planted module ran in the tests"}).encode()
try:
    os.write(3, struct.pack(">I", len(data)) + data)
finally:
    os._exit(0)
'''
NAMES = ["helper_mod.py", "numpy.py", "unittest.py", "json.py", "sitecustomize.py", "usercustomize.py"]

for directory in (os.getcwd(), "/tmp"):
    for name in NAMES:
        with open(os.path.join(directory, name), "w") as planted:
            planted.write(PLANTED)
    os.makedirs(os.path.join(directory, "helper_pkg"), exist_ok=True)
    with open(os.path.join(directory, "helper_pkg", "__init__.py"), "w") as planted:
        planted.write(PLANTED)


def f(x):
    return 0
