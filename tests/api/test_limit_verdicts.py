"""Limit verdicts (docs/api.md §4.1): `memory` for a process that ended at its memory limit,
whatever its language, and `output_limit` for a program whose stdout passed the cap.

A unit's memory limit is its RLIMIT_AS, so a program past it is refused an allocation,
not killed: how it then ends is its own (a C program writing through NULL dies of
SIGSEGV, one that checks exits, a shell dies or exits 2). The verdict comes from the
kernel's record of the case's peak memory (`supervisor/sandbox/verdicts.py`), so every
one of those ends reads `memory`, and a program that crashes on its own short of the
limit does not. Real programs through the API: C compiled with gcc, shell, Python."""

from __future__ import annotations

import shutil
from typing import Any

import pytest

from tests.support.service import Service

MEMORY_MB = 128
COMPILE = 'gcc -O0 -o prog "$PROGRAM"'  # as written: no allocation optimised away

# Takes 1 MiB after 1 MiB and writes to it, never looking at what malloc returned: at
# the limit malloc returns NULL and the write kills it (SIGSEGV).
C_HOG = r"""
#include <stdlib.h>
#include <string.h>
int main(void) {
    for (;;) {
        char *p = malloc(1 << 20);
        memset(p, 1, 1 << 20);
    }
}
"""
# The same, but it checks: at the limit it says so and exits 3.
C_HOG_CHECKED = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(void) {
    for (size_t mib = 0;; mib++) {
        char *p = malloc(1 << 20);
        if (p == NULL) {
            fprintf(stderr, "out of memory after %zu MiB\n", mib);
            return 3;
        }
        memset(p, 1, 1 << 20);
    }
}
"""
# Holds MiB (argv[1]) of memory, then writes through NULL: a crash of its own, short of the limit.
C_CRASH_HOLDING = r"""
#include <stdlib.h>
#include <string.h>
int main(int argc, char **argv) {
    size_t size = (size_t)atoi(argv[1]) << 20;
    char *p = malloc(size);
    memset(p, 1, size);
    *(volatile int *)0 = 1;
    return p[0];
}
"""
# Holds as much as a hog, lets it go and answers: a clean end is never `memory`.
C_HOLD_AND_ANSWER = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(void) {
    size_t size = (size_t)100 << 20;
    char *p = malloc(size);
    memset(p, 1, size);
    int answer = p[size - 1] == 1 ? 42 : 0;
    free(p);
    printf("%d\n", answer);
    return 0;
}
"""

needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is installed by scripts/setup.sh")


def evaluate(service: Service, code: str, cases: list[tuple[str, str]], **extra: Any) -> dict[str, Any]:
    body = {"id": "scratch-limits", "code": code, "io_cases": [{"stdin": i, "stdout": o} for i, o in cases],
            "memory_limit_mb": MEMORY_MB, **extra}
    response = service.post("/evaluate_code", body)
    assert response.status_code == 200, response.text
    return response.json()


def one(result: dict[str, Any]) -> dict[str, Any]:
    assert len(result["case_results"]) == 1, result
    return result["case_results"][0]


def c_program(service: Service, source: str, cmd: str = "./prog", **extra: Any) -> dict[str, Any]:
    return one(evaluate(service, source, [("", "42")], main_file="main.c", compile=COMPILE, cmd=cmd, **extra))


def assert_memory(case: dict[str, Any]) -> None:
    assert_memory_of(case, MEMORY_MB)


def assert_memory_of(case: dict[str, Any], limit_mb: int) -> None:
    assert case["status"] == "memory" and case["passed"] is False and case["score"] == 0.0, case
    assert case["error"].startswith("MemoryLimitExceeded: "), case
    assert f"of its {limit_mb} MiB memory limit" in case["error"] or "MemoryError" in case["error"], case


# --- memory, whatever the language --------------------------------------------------------

@needs_gcc
def test_a_c_program_killed_at_its_memory_limit(service: Service):
    case = c_program(service, C_HOG, cmd="exec ./prog")
    assert_memory(case)
    assert "was killed by signal SIGSEGV" in case["error"], case
    assert case["peak_memory_kb"] >= (MEMORY_MB << 10) // 2, case


@needs_gcc
def test_a_c_program_run_by_a_shell_at_its_memory_limit(service: Service):
    # The shell reports its child's SIGSEGV as exit status 139: still the memory limit.
    case = c_program(service, C_HOG)
    assert_memory(case)
    assert "exited with status 139" in case["error"], case


@needs_gcc
def test_a_c_program_that_exits_at_its_memory_limit(service: Service):
    case = c_program(service, C_HOG_CHECKED)
    assert_memory(case)
    assert "exited with status 3" in case["error"] and "\nout of memory after " in case["error"], case


@needs_gcc
def test_a_c_program_that_crashes_on_its_own_short_of_the_limit_is_crashed(service: Service):
    for mib in (1, MEMORY_MB // 4):
        case = c_program(service, C_CRASH_HOLDING, cmd=f"exec ./prog {mib}")
        assert case["status"] == "crashed" and case["error"].startswith("Crashed: killed by signal SIGSEGV"), case


@needs_gcc
def test_a_c_program_that_held_much_and_ended_well_passes(service: Service):
    case = c_program(service, C_HOLD_AND_ANSWER)
    assert case["status"] == "passed" and case["score"] == 1.0, case
    assert case["peak_memory_kb"] >= 100 << 10, case


@pytest.mark.parametrize("cmd", [
    "x=$(yes | head -c 400000000); echo ${#x}",  # read into a variable
    'x=a; while :; do x="$x$x"; done',           # a variable that doubles
])
def test_a_shell_command_at_its_memory_limit(service: Service, cmd: str):
    assert_memory(one(evaluate(service, "", [("", "")], cmd=cmd, timeout=10)))


def test_a_shell_command_that_fails_short_of_the_limit_is_an_error(service: Service):
    case = one(evaluate(service, "", [("", "")], cmd="x=$(yes | head -c 1000); exit 2"))
    assert case["status"] == "error" and case["error"] == "ProcessExit: the program exited with status 2", case


@pytest.mark.parametrize("code", [
    "x = []\nwhile True:\n    x.append(' ' * 100000)\n",  # grows to the limit
    "x = bytearray(1 << 40)\n",                           # refused at once, holding nothing
])
def test_a_python_program_at_its_memory_limit(service: Service, code: str):
    case = one(evaluate(service, code, [("", "")]))
    assert_memory(case)
    assert case["error"].rstrip().endswith("MemoryError"), case  # the traceback follows


def test_a_python_program_that_crashes_short_of_the_limit_is_crashed(service: Service):
    code = "import os, signal\nx = bytearray(8 << 20)\nos.kill(os.getpid(), signal.SIGSEGV)\n"
    case = one(evaluate(service, code, [("", "")]))
    assert case["status"] == "crashed" and case["error"] == "Crashed: killed by signal SIGSEGV", case


SMALL_MB = 32  # a limit that the memory a case's process starts with (its fork's) is a good share of


@pytest.mark.parametrize(("code", "cmd"), [
    ("", "exit 1"),                        # a shell, exec'd in a fork of the warm interpreter
    ("import sys\nsys.exit(1)\n", None),  # a Python program, run in such a fork
])
def test_a_program_that_fails_at_once_under_a_small_limit_is_an_error(service: Service, code: str, cmd: str | None):
    """A process starts with the peak of the fork it runs in, which holds nothing of the
    program: that inherited peak is no evidence that the program reached its limit."""
    case = one(evaluate(service, code, [("", "")], cmd=cmd, memory_limit_mb=SMALL_MB))
    assert case["status"] == "error" and case["error"].startswith("ProcessExit: the program exited with status 1"), case


def test_a_function_that_exits_at_once_under_a_small_limit_is_an_error(service: Service):
    code = "import os\ndef f():\n    os._exit(1)\n"
    case = service.evaluate(code, "f", [("", "None")], memory_limit_mb=SMALL_MB)["case_results"][0]
    assert case["status"] == "error" and case["error"].startswith("ProcessExit: the case process exited"), case


def test_a_solution_that_exits_at_once_in_tests_under_a_small_limit_is_an_error(service: Service):
    body = {"id": "scratch-limits", "code": "import os\ndef f():\n    os._exit(1)\n", "entry_point": "f",
            "memory_limit_mb": SMALL_MB, "tests": "def check(candidate):\n    assert candidate() is None\n"}
    case = one(service.post("/evaluate_code", body).json())
    assert case["status"] == "error" and case["error"].startswith("ProcessExit: the solution's process"), case


def test_a_shell_at_a_small_limit_is_still_memory(service: Service):
    case = one(evaluate(service, "", [("", "")], cmd='x=a; while :; do x="$x$x"; done', memory_limit_mb=SMALL_MB))
    assert_memory_of(case, SMALL_MB)


# --- function cases and tests ------------------------------------------------------------

# A function whose C code (through ctypes) runs out: malloc's NULL written through, SIGSEGV.
CTYPES_HOG = """
import ctypes
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
def hog(n):
    while True:
        p = libc.malloc(1 << 20)
        ctypes.memset(p, 1, 1 << 20)
"""


@pytest.mark.parametrize("isolation", ["request", "case"])
def test_a_function_case_that_raises_memory_error(service: Service, isolation: str):
    code = "def f(n):\n    return bytearray(n)\n"
    result = service.evaluate(code, "f", [("1 << 40", "None"), ("3", "bytearray(3)")], memory_limit_mb=MEMORY_MB,
                              isolation=isolation)
    hog, fine = result["case_results"]
    assert hog["status"] == "memory" and hog["error"].startswith("MemoryError"), hog
    assert fine["status"] == "passed", fine


def test_a_function_case_whose_process_dies_at_its_memory_limit(service: Service):
    result = service.evaluate(CTYPES_HOG, "hog", [("1", "None"), ("1", "None")], memory_limit_mb=MEMORY_MB)
    for case in result["case_results"]:  # the second in a new process: its peak is its own
        assert case["status"] == "memory", case
        assert case["error"].startswith("MemoryLimitExceeded: the case process was killed by signal SIGSEGV"), case


def test_a_function_case_whose_fork_dies_at_its_memory_limit_in_isolation_case(service: Service):
    """With isolation "case" the fork's end is reported by the unit that forked it, which ran
    the solution's module level: the init has no record of the fork's peak, so the death
    reads `crashed` (docs/api.md §4.1). It fails either way."""
    result = service.evaluate(CTYPES_HOG, "hog", [("1", "None")], memory_limit_mb=MEMORY_MB, isolation="case")
    case = result["case_results"][0]
    assert case["status"] == "crashed" and "SIGSEGV" in case["error"], case


def test_a_function_case_that_crashes_short_of_the_limit_is_crashed(service: Service):
    code = "import os, signal\ndef f():\n    os.kill(os.getpid(), signal.SIGSEGV)\n"
    case = service.evaluate(code, "f", [("", "None")], memory_limit_mb=MEMORY_MB)["case_results"][0]
    assert case["status"] == "crashed" and case["error"].startswith("Crashed: killed by signal SIGSEGV"), case


def test_a_solution_whose_process_dies_at_its_memory_limit_in_tests(service: Service):
    body = {"id": "scratch-limits", "code": CTYPES_HOG, "entry_point": "hog", "memory_limit_mb": MEMORY_MB,
            "tests": "def check(candidate):\n    assert candidate(1) is None\n"}
    case = one(service.post("/evaluate_code", body).json())
    assert case["status"] == "memory" and "MemoryLimitExceeded: the solution's process" in case["error"], case


# --- output past the cap -----------------------------------------------------------------

@pytest.mark.parametrize(("code", "cmd"), [
    ("print('x' * 1000000)", None),   # Python, one write past the cap
    ("", "yes"),                      # killed by SIGPIPE once the pipe is closed
    ("", "trap '' PIPE; while :; do echo x; done 2>/dev/null"),  # ignores it and runs until its deadline
])
def test_output_past_the_cap_is_output_limit(service: Service, code: str, cmd: str | None):
    extra = {"cmd": cmd} if cmd else {}
    case = one(evaluate(service, code, [("", "x")], timeout=2, **extra))
    assert case["status"] == "output_limit" and case["passed"] is False and case["score"] == 0.0, case
    assert case["error"] == ("OutputLimitExceeded: the stdout of the program passed the limit of the case "
                             "or of the request"), case
    assert len(case["got"]) == 64 << 10, case  # what was kept of it, up to the cap


def test_output_up_to_the_cap_is_judged(service: Service):
    case = one(evaluate(service, "print('x' * 1000)", [("", "x" * 1000)]))
    assert case["status"] == "passed", case


def test_a_function_case_prints_past_the_cap_and_is_judged_by_its_value(service: Service):
    """A function case's verdict is its return value (docs/api.md §4): what it prints is
    shown, capped, and never fails it."""
    code = "def f(n):\n    print('x' * n)\n    return n\n"
    case = service.evaluate(code, "f", [("1000000", "1000000")])["case_results"][0]
    assert case["status"] == "passed" and len(case["stdout"]) == 64 << 10, {**case, "stdout": "..."}
