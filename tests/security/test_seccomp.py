"""The seccomp filter (supervisor/sandbox/seccomp.py): its program, what it denies in a
real process and through the API, and that ordinary tools still work under it.

The attack program (hostile/obscure_syscalls.py) runs twice outside the service, as root
with and without the filter: each denial is then seen to come from the filter alone
(without it every call answers something else), so each assertion can fail. Through the
API it runs in a real sandbox, where the same answers must come back.
"""

from __future__ import annotations

import errno
import json
import struct
import subprocess
import sys
from typing import Any

import pytest

from supervisor.sandbox import libc, seccomp
from tests.security.support import HOSTILE, run_hostile
from tests.support.service import Service

ARCH = seccomp.current_arch()
needs_filter = pytest.mark.skipif(not seccomp.available(), reason="no seccomp filter on this architecture")
X86_64 = ARCH is not None and ARCH.name == "x86_64"
SIGCHLD = 17
PTRACE_GETREGS = 12
NO_SUCH_PID = 0x7FFFFFFF
LSM_LIST_MODULES = 461   # Linux 6.8; unknown to libseccomp 2.5
OPEN_TREE_ATTR = 467     # Linux 6.15

# Must never be allowed, whatever Docker's profile does.
ESCALATIONS = ("unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "open_tree", "move_mount",
               "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr", "ptrace", "process_vm_readv",
               "process_vm_writev", "pidfd_getfd", "process_madvise", "kcmp", "bpf", "perf_event_open",
               "userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register", "keyctl", "add_key",
               "request_key", "kexec_load", "kexec_file_load", "init_module", "finit_module",
               "delete_module", "open_by_handle_at", "name_to_handle_at", "swapon", "swapoff", "reboot",
               "acct", "quotactl", "quotactl_fd", "syslog", "clone", "clone3", "landlock_create_ruleset",
               "memfd_secret", "modify_ldt", "lookup_dcookie", "vhangup", "iopl", "ioperm", "settimeofday",
               "clock_settime", "mbind", "set_mempolicy", "sethostname", "setdomainname")


def probes() -> dict[str, list[int]]:
    """label -> [number, args...]: calls the filter must deny, with arguments that make each
    one harmless but answer something other than EPERM without the filter."""
    n = seccomp.number
    calls: dict[str, list[Any]] = {
        "unshare_files": ["unshare", 0x400],  # even a harmless unshare: the call is not listed
        "setns": ["setns", -1, 0],
        "clone_newuser": ["clone", libc.CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0],
        "clone_newnet": ["clone", libc.CLONE_NEWNET | SIGCHLD, 0, 0, 0, 0],
        "clone3": ["clone3", 0, 0],
        "mount": ["mount", 0, 0, 0, 0, 0],
        "open_tree": ["open_tree", -1, 0, 0],
        "fsopen": ["fsopen", 0, 0],
        "move_mount": ["move_mount", -1, 0, -1, 0, 0],
        "ptrace": ["ptrace", PTRACE_GETREGS, NO_SUCH_PID, 0, 0],
        "process_vm_readv": ["process_vm_readv", NO_SUCH_PID, 0, 0, 0, 0, 0],
        "pidfd_getfd": ["pidfd_getfd", -1, 0, 0],
        "process_madvise": ["process_madvise", -1, 0, 0, 0, 0],
        "kcmp": ["kcmp", NO_SUCH_PID, NO_SUCH_PID, 0, 0, 0],
        "bpf": ["bpf", 999, 0, 0],
        "perf_event_open": ["perf_event_open", 0, 0, -1, -1, 0],
        "userfaultfd": ["userfaultfd", 1],  # UFFD_USER_MODE_ONLY: open to anyone without the filter
        "io_uring_setup": ["io_uring_setup", 1, 0],
        "keyctl": ["keyctl", 0, -3, 0],  # KEYCTL_GET_KEYRING_ID of the session keyring, no create
        "add_key": ["add_key", 0, 0, 0, 0, 0],
        "kexec_load": ["kexec_load", 0, 1000, 0, 0],  # more segments than KEXEC_SEGMENT_MAX
        "init_module": ["init_module", 0, 0, 0],
        "name_to_handle_at": ["name_to_handle_at", -1, 0, 0, 0, 0],
        "landlock_create_ruleset": ["landlock_create_ruleset", 0, 0, 1],  # asks the ABI version
        "memfd_secret": ["memfd_secret", 0],
        "socket_alg": ["socket", 38, 5, 0],  # AF_ALG, SOCK_SEQPACKET
        "personality_no_aslr": ["personality", 0x0040000],  # ADDR_NO_RANDOMIZE (setarch -R)
        "unshare_user": ["unshare", libc.CLONE_NEWUSER],  # last: it would change what the others see
    }
    out = {label: [n(spec[0]), *spec[1:]] for label, spec in calls.items()}
    out["lsm_list_modules"] = [LSM_LIST_MODULES, 0, 0, 0]  # on this kernel, in no list
    out["open_tree_attr"] = [OPEN_TREE_ATTR, -1, 0, 0, 0, 0]
    out["past_newest"] = [seccomp.NEWEST + 1]
    out["far_beyond"] = [1000]
    return out


def expected(label: str) -> int:
    return -errno.ENOSYS if label in ("clone3", "past_newest") else -errno.EPERM


def run_probes(filtered: bool) -> dict[str, int]:
    """The attack program as root outside the service, under the filter or not."""
    def confine() -> None:
        libc.prctl(libc.PR_SET_NO_NEW_PRIVS, 1)
        assert seccomp.install()

    done = subprocess.run([sys.executable, str(HOSTILE / "obscure_syscalls.py"), json.dumps(probes())],
                          preexec_fn=confine if filtered else None, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done
    return json.loads(done.stdout)


def test_the_allowlist_leaves_out_every_escalation_and_resolves_here():
    allowed = set(seccomp.ALLOWED)
    assert not allowed & set(ESCALATIONS), allowed & set(ESCALATIONS)
    assert not allowed & set(seccomp.WITHHELD)
    assert not allowed & set(seccomp.CONDITIONAL)
    if seccomp.available():
        assert [name for name in seccomp.ALLOWED if seccomp.number(name) is None] == []
        assert all(n <= seccomp.NEWEST for n in seccomp.allowed_numbers())


def decode(program: bytes) -> list[tuple[int, int, int, int]]:
    return [struct.unpack("=HBBI", program[i:i + 8]) for i in range(0, len(program), 8)]


@needs_filter
def test_the_program_checks_the_architecture_first_and_fits():
    code = decode(seccomp.build())
    assert code[0] == (0x20, 0, 0, 4)  # load seccomp_data.arch
    assert code[1][0] == 0x15 and code[1][3] == ARCH.token  # compared with ours
    assert len(code) < 4096  # BPF_MAXINSNS
    for index, (op, jt, jf, _) in enumerate(code):
        if op & 0x07 == 0x05 and op != 0x05:  # conditional jumps: both targets inside
            assert index + 1 + max(jt, jf) < len(code)
    if X86_64:  # libseccomp's x32 guard: numbers with bit 30 set go to the bad-arch action
        assert any(op == 0x35 and k == seccomp.X32_SYSCALL_BIT for op, _, _, k in code)
    returns = {k for op, _, _, k in code if op == 0x06}
    assert returns == {0x7FFF0000, 0x50000 | errno.EPERM, 0x50000 | errno.ENOSYS}, returns


@needs_filter
def test_each_denial_comes_from_the_filter():
    """Without the filter (as root) every probe answers something else than with it."""
    free, filtered = run_probes(False), run_probes(True)
    for label in probes():
        assert filtered[label] == expected(label), (label, filtered[label])
        if label != "past_newest":  # the kernel says ENOSYS there too: the rule only keeps it
            assert free[label] != filtered[label], (label, free[label])
    if X86_64:
        assert filtered["x32_getpid"] == -errno.EPERM and free["x32_getpid"] != -errno.EPERM
        assert filtered["i386_getpid"] == -errno.EPERM and free["i386_getpid"] > 0
    assert filtered["getpid"] > 0


@needs_filter
def test_obscure_and_new_syscalls_fail_in_the_sandbox(service: Service, session: str):
    result = run_hostile(service, session, "obscure_syscalls.py", json.dumps(probes()), timeout=30)
    assert result["exit_code"] == 0, result
    got = json.loads(result["stdout"])
    wrong = {label: got[label] for label in probes() if got[label] != expected(label)}
    assert wrong == {}, wrong
    if X86_64:
        assert got["x32_getpid"] == -errno.EPERM and got["i386_getpid"] == -errno.EPERM, got
    assert got["getpid"] > 0, got


@needs_filter
def test_the_default_is_deny_for_every_number_not_listed(service: Service, session: str):
    """Every number but the allowed ones, called in a sandbox: EPERM up to the newest known
    call, ENOSYS after it up to FUTURE_END, EPERM beyond; and every x32 number EPERM."""
    skip = seccomp.allowed_numbers() | {seccomp.number(name) for name in seccomp.CONDITIONAL}
    if X86_64:
        skip.add(seccomp.number("rt_sigreturn"))
        # uretprobe and uprobe: the kernel lets them through seccomp (they fault or fail outside a probe)
        skip.update(seccomp.PASSED_THROUGH)
    result = run_hostile(service, session, "obscure_syscalls.py", "{}", json.dumps(sorted(skip)), timeout=60)
    assert result["exit_code"] == 0, result
    got = json.loads(result["stdout"])
    wrong: dict[str, int] = {}
    for n in range(600):
        want = -errno.ENOSYS if seccomp.NEWEST < n <= seccomp.FUTURE_END else -errno.EPERM
        if n not in skip and got[f"nr{n}"] != want:
            wrong[f"nr{n}"] = got[f"nr{n}"]
        if X86_64 and got[f"x32_{n}"] != -errno.EPERM:
            wrong[f"x32_{n}"] = got[f"x32_{n}"]
    assert wrong == {}, wrong
    assert len([k for k in got if k.startswith("nr")]) > 250  # the sweep really ran


@needs_filter
def test_fork_and_threads_work_under_the_filter():
    """glibc's fork is clone without namespace flags; a thread is clone3 -> ENOSYS -> clone."""
    code = ("import os, threading\n"
            "pid = os.fork()\n"
            "os._exit(7) if pid == 0 else None\n"
            "box = []\n"
            "t = threading.Thread(target=lambda: box.append(1)); t.start(); t.join()\n"
            "print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), len(box))\n")

    def confine() -> None:
        libc.prctl(libc.PR_SET_NO_NEW_PRIVS, 1)
        seccomp.install()

    done = subprocess.run([sys.executable, "-c", code], preexec_fn=confine, capture_output=True, text=True,
                          timeout=30)
    assert done.stdout == "7 1\n", done


def test_python_multiprocessing_works_in_the_sandbox(service: Service, session: str):
    result = service.run(session, 'python3 -c "import multiprocessing as m; print(m.Pool(2).map(abs,[-1,-2]))"')
    assert result["stdout"] == "[1, 2]\n", result


def test_prolog_works_in_the_sandbox(service: Service, session: str):
    result = service.run(session, 'swipl -g "X is 1+2, write(X), nl" -t halt')
    assert result["stdout"] == "3\n", result


THREADS_SUBPROCESSES_PIP = (
    "import concurrent.futures, subprocess, sys\n"
    "with concurrent.futures.ThreadPoolExecutor(4) as pool:\n"
    "    print(sum(pool.map(abs, [-1, -2, -3])))\n"
    "print(subprocess.run(['sh', '-c', 'echo sub'], capture_output=True, text=True).stdout.strip())\n"
    "print(subprocess.run([sys.executable, '-m', 'pip', '--version'], capture_output=True).returncode)\n")
ASYNCIO_SOCKETS_SELECTORS = (
    "import asyncio, socket\n"
    "async def main():\n"
    "    r, w = await asyncio.open_unix_connection(sock=socket.socketpair()[0])\n"
    "    proc = await asyncio.create_subprocess_exec('echo', 'hi', stdout=asyncio.subprocess.PIPE)\n"
    "    out, _ = await proc.communicate()\n"
    "    await asyncio.sleep(0.01)\n"
    "    return out.decode().strip()\n"
    "print(asyncio.run(main()))\n")


@pytest.mark.parametrize(("script", "printed"), [
    (THREADS_SUBPROCESSES_PIP, "6\nsub\n0\n"),
    (ASYNCIO_SOCKETS_SELECTORS, "hi\n"),
], ids=["threads-subprocesses-pip", "asyncio-sockets-selectors"])
def test_python_programs_work_in_the_sandbox(service: Service, session: str, script: str, printed: str):
    service.write(session, "program.py", script)
    result = service.run(session, "python3 program.py", timeout=60)
    assert result["stdout"] == printed, result


def test_coreutils_and_shell_work_in_the_sandbox(service: Service, session: str):
    cmd = ("mkdir -p d/e && printf 'b\\na\\n' > d/e/f && sort d/e/f | tr a-z A-Z && cp -a d d2 && "
           "ln -s f d2/e/l && stat -c %F d2/e/l && chmod 600 d2/e/f && ls -l d2/e | wc -l && "
           "find d2 -type f | xargs cat | sha256sum | cut -c1-8 && du -s d2 >/dev/null && "
           "mv d2 d3 && rm -r d d3 && date +%Y >/dev/null && sleep 0.01 && timeout 5 true && echo ok")
    result = service.run(session, cmd, timeout=30)
    assert result["stdout"] == "A\nB\nsymbolic link\n3\n" + _digest("b\na\n") + "\nok\n", result


def _digest(text: str) -> str:
    import hashlib
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def test_numpy_works_in_the_sandbox(service: Service, session: str):
    pytest.importorskip("numpy")
    result = service.run(session, 'python3 -c "import numpy as n; a=n.arange(9.).reshape(3,3); '
                                  'print(int(n.linalg.matrix_rank(a)), int((a@a).sum()))"', timeout=60)
    assert result["stdout"] == "2 486\n", result


def test_evaluated_code_can_use_multiprocessing(service: Service, session: str):
    code = "import multiprocessing as m\ndef f():\n    with m.Pool(2) as p:\n        return p.map(abs, [-1, -2])\n"
    result = service.evaluate(code, "f", [("", "[1, 2]")], session=session)
    assert result["passed"] is True, result


@needs_filter
def test_without_libseccomp_the_filter_refuses_instead_of_skipping():
    """A missing library must stop the supervisor (isolation check), not drop the filter."""
    code = ("import sys; sys.modules['pyseccomp'] = None\n"
            "from supervisor.sandbox import seccomp\n"
            "from supervisor import isolation\n"
            "try:\n"
            "    seccomp.install()\n"
            "except seccomp.Unavailable as exc:\n"
            "    print('refused:', exc.strerror)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30,
                          cwd=str(HOSTILE.parents[2]))
    assert done.stdout.startswith("refused: libseccomp through pyseccomp"), done
