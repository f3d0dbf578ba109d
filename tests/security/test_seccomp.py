"""The seccomp filter (supervisor/sandbox/seccomp.py): its program, what it denies in a
real process, and that ordinary tools still work under it in the sandbox."""

from __future__ import annotations

import ast
import ctypes
import errno
import os
import struct
import threading

import pytest

from supervisor.sandbox import libc, seccomp
from tests.support.service import Service

ARCH = seccomp.current_arch()
needs_table = pytest.mark.skipif(ARCH is None, reason="no seccomp table for this architecture")


def decode(program: bytes) -> list[tuple[int, int, int, int]]:
    return [struct.unpack("=HBBI", program[i:i + 8]) for i in range(0, len(program), 8)]


@pytest.mark.parametrize("arch", [seccomp.X86_64, seccomp.AARCH64], ids=lambda a: a.name)
def test_the_program_is_well_formed(arch: seccomp.Arch):
    code = decode(seccomp.build(arch))
    assert code[0] == (seccomp.BPF_LD_W_ABS, 0, 0, seccomp.OFFSET_ARCH)  # the arch is checked first
    assert len(code) < 4096  # BPF_MAXINSNS
    for index, (op, jt, jf, _) in enumerate(code):
        if op & 0x07 == 0x05:  # BPF_JMP: both targets inside the program
            assert index + 1 + max(jt, jf) < len(code)
    assert code[-1][0] == seccomp.BPF_RET_K and code[-1][3] == seccomp.SECCOMP_RET_ERRNO | errno.ENOSYS
    denied = {k for op, _, _, k in code if op == seccomp.BPF_JEQ_K}
    assert {arch.numbers[name] for name in seccomp.DENIED} <= denied
    assert all(name in arch.numbers for name in seccomp.DENIED + ("clone", "clone3"))


def in_filtered_child(probe) -> dict:
    """Install the filter in a forked child (root keeps its uid here), run `probe` there."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read_end)
            libc.prctl(libc.PR_SET_NO_NEW_PRIVS, 1)
            assert seccomp.install()
            result = probe()
            os.write(write_end, repr(result).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    data = b""
    while chunk := os.read(read_end, 65536):
        data += chunk
    os.close(read_end)
    os.waitpid(pid, 0)
    return ast.literal_eval(data.decode())


def _syscall(number: int, *args: int) -> int:
    c = ctypes.CDLL(None, use_errno=True)
    result = c.syscall(number, *[ctypes.c_long(a) for a in args])
    return -ctypes.get_errno() if result == -1 else result


@needs_table
def test_denied_calls_fail_and_ordinary_ones_work():
    def probe() -> dict:
        n = ARCH.numbers
        out = {
            "unshare_user": _syscall(n["unshare"], libc.CLONE_NEWUSER),
            "unshare_files": _syscall(n["unshare"], 0x400),  # even harmless unshares: the call is denied
            "clone_newuser": _syscall(n["clone"], libc.CLONE_NEWUSER | 17, 0, 0, 0, 0),
            "clone_newnet": _syscall(n["clone"], libc.CLONE_NEWNET | 17, 0, 0, 0, 0),
            "clone3": _syscall(n["clone3"], 0, 0),
            "mount": _syscall(n["mount"], 0, 0, 0, 0, 0),
            "ptrace": _syscall(n["ptrace"], 16, 1, 0, 0),
            "bpf": _syscall(n["bpf"], 0, 0, 0),
            "keyctl": _syscall(n["keyctl"], 0, 0, 0, 0, 0),
            "userfaultfd": _syscall(n["userfaultfd"], 0),
            "perf_event_open": _syscall(n["perf_event_open"], 0, 0, 0, 0, 0),
            "io_uring_setup": _syscall(n["io_uring_setup"], 1, 0),
        }
        if ARCH.x32_bit:
            out["x32_getpid"] = _syscall(seccomp.X32_SYSCALL_BIT | 39)
        pid = os.fork()  # glibc's fork: clone without namespace flags
        if pid == 0:
            os._exit(7)
        out["fork"] = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
        box: list[int] = []
        thread = threading.Thread(target=lambda: box.append(os.getpid()))  # clone3 -> ENOSYS -> clone
        thread.start()
        thread.join()
        out["thread"] = len(box)
        return out

    got = in_filtered_child(probe)
    for name in ("unshare_user", "unshare_files", "clone_newuser", "clone_newnet", "mount", "ptrace", "bpf",
                 "keyctl", "userfaultfd", "perf_event_open", "io_uring_setup", "x32_getpid"):
        if name in got:
            assert got[name] == -errno.EPERM, (name, got)
    assert got["clone3"] == -errno.ENOSYS, got
    assert got["fork"] == 7 and got["thread"] == 1, got


def test_python_multiprocessing_works_in_the_sandbox(service: Service, session: str):
    result = service.run(session, 'python3 -c "import multiprocessing as m; print(m.Pool(2).map(abs,[-1,-2]))"')
    assert result["stdout"] == "[1, 2]\n", result


def test_prolog_works_in_the_sandbox(service: Service, session: str):
    result = service.run(session, 'swipl -g "X is 1+2, write(X), nl" -t halt')
    assert result["stdout"] == "3\n", result


def test_threads_subprocesses_and_pip_work_in_the_sandbox(service: Service, session: str):
    script = ("import concurrent.futures, subprocess, sys\n"
              "with concurrent.futures.ThreadPoolExecutor(4) as pool:\n"
              "    print(sum(pool.map(abs, [-1, -2, -3])))\n"
              "print(subprocess.run(['sh', '-c', 'echo sub'], capture_output=True, text=True).stdout.strip())\n"
              "print(subprocess.run([sys.executable, '-m', 'pip', '--version'], capture_output=True).returncode)\n")
    service.write(session, "tools.py", script)
    result = service.run(session, "python3 tools.py", timeout=60)
    assert result["stdout"] == "6\nsub\n0\n", result


def test_evaluated_code_can_use_multiprocessing(service: Service, session: str):
    code = "import multiprocessing as m\ndef f():\n    with m.Pool(2) as p:\n        return p.map(abs, [-1, -2])\n"
    result = service.evaluate(code, "f", [("", "[1, 2]")], session=session)
    assert result["passed"] is True, result
