"""A Python program case runs from a warm fork (supervisor/sandbox/program.py), not a new
interpreter: each program here runs both ways through the real service, as the default
(the warm fork) and with `cmd: python3 $PROGRAM` (a real `python3 /program/main.py` in the
same sandbox), and both must give the same stdout, stderr and end (docs/api.md §4.1)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.service import Service

PROGRAMS: dict[str, tuple[str, str]] = {
    "argv and file": ("import sys\nprint(sys.argv, __file__, __name__, sys.path[0])\n", ""),
    "input": ("a = input()\nb = input()\nprint(int(a) + int(b))\n", "1\n2\n"),
    "stdin text and buffer": ("import sys\nfirst = sys.stdin.readline()\nrest = sys.stdin.buffer.read()\n"
                              "sys.stdout.write(first.upper())\nsys.stdout.flush()\n"
                              "sys.stdout.buffer.write(rest[::-1] + b'\\n')\n", "head\nbody\n"),
    "lines of stdin": ("import sys\nfor line in sys.stdin:\n    print(len(line), repr(line))\n", "a\r\nbb\n\nccc"),
    "os.read of fd 0": ("import os\nprint(os.read(0, 100))\n", "raw bytes\n"),
    "open(0)": ("print(open(0).read().split())\n", "1 2\n3\n"),
    "exit with a number": ("import sys\nprint('out')\nsys.exit(3)\n", ""),
    "exit with a message": ("import sys\nsys.exit('goodbye')\n", ""),
    "exit with None": ("raise SystemExit\n", ""),
    "uncaught exception": ("def f(x):\n    return 1 / x\nprint('before')\nf(0)\n", ""),
    "chained exception": ("try:\n    {}['k']\nexcept KeyError as e:\n    raise ValueError('v') from e\n", ""),
    "syntax error": ("print('never'\n", ""),
    "atexit": ("import atexit\natexit.register(lambda: print('at exit'))\nprint('main')\n", ""),
    "no newline at the end": ("print('partial', end='')\n", ""),
    "stderr": ("import sys\nprint('to err', file=sys.stderr)\nprint('to out')\n", ""),
    "streams as configured": ("import sys, signal\nfor s in (sys.stdin, sys.stdout, sys.stderr):\n"
                              "    print(s.name, s.encoding, s.errors, s.line_buffering, s.write_through, "
                              "type(s.buffer).__name__, s.mode)\n"
                              "print(signal.getsignal(signal.SIGPIPE), signal.getsignal(signal.SIGXFSZ), "
                              "signal.getsignal(signal.SIGINT))\n"
                              "print(sys.getrecursionlimit(), sys.flags.optimize, sys.stdin.isatty())\n", ""),
    "non-ASCII and surrogates": ("import sys\nprint('é ✓')\nsys.stdout.write('\\udcff\\n')\n", "é\n"),
    "thread finishing after main": ("import threading, time\n"
                                    "def late():\n    time.sleep(0.05)\n    print('late')\n"
                                    "threading.Thread(target=late).start()\nprint('main done')\n", ""),
    "deep recursion in a thread": ("import sys, threading\nsys.setrecursionlimit(10**6)\n"
                                   "threading.stack_size(256 * 1024 * 1024)\n"
                                   "def depth(n):\n    return 0 if n == 0 else 1 + depth(n - 1)\n"
                                   "result = []\nt = threading.Thread(target=lambda: result.append(depth(100000)))\n"
                                   "t.start()\nt.join()\nprint(result)\n", ""),
    "recursion limit": ("import sys\nsys.setrecursionlimit(50)\n"
                        "def f(n):\n    return f(n + 1)\ntry:\n    f(0)\nexcept RecursionError as e:\n"
                        "    print('RecursionError', e)\n", ""),
    "broken pipe on stdout": ("import os, sys\nos.close(1)\ntry:\n    print('x', flush=True)\n"
                              "except OSError as e:\n    print(type(e).__name__, file=sys.stderr)\n", ""),
    # (the shell that runs `cmd` adds PWD to the environment it passes on)
    "environment": ("import os\nprint(sorted(k for k in os.environ if k != 'PWD'), os.environ['PROGRAM'])\n", ""),
    "main module": ("import sys, pickle\nclass A:\n    pass\n"
                    "print(A.__module__, sys.modules['__main__'].__file__, sys.modules['__main__'].__spec__)\n"
                    "print(pickle.loads(pickle.dumps(A())).__class__)\n", ""),
}


def run(service: Service, code: str, stdin: str, **extra: Any) -> dict[str, Any]:
    response = service.post("/evaluate_code", {"id": "scratch-fidelity", "code": code,
                                               "io_cases": [{"stdin": stdin, "stdout": ""}], **extra})
    assert response.status_code == 200, response.text
    case = response.json()["case_results"][0]
    return {key: case[key] for key in ("status", "error", "stdout", "stderr")}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_a_warm_program_ends_as_python3_main_py_does(service: Service, name: str) -> None:
    code, stdin = PROGRAMS[name]
    real = run(service, code, stdin, cmd="python3 $PROGRAM")
    warm = run(service, code, stdin)
    assert warm == real
