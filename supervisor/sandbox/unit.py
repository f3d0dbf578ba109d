"""Runs in: a unit, from its fork until user code runs.

A unit's process: the only kind of process that runs user code (and its children).

The template forks one per case unit and per Python program case (a command, `/run` or a
program's `cmd`, is started from C instead: `spawn`, which takes the same steps). The fork
inherits the template's confinement (no capabilities, no-new-privs, seccomp, namespaces);
here it gives up the template's saved uid for good, lowers the limits to its job's,
moves into the session directory, closes every descriptor of the harness, and becomes
the unit (its environment is the template's, set to the sandbox's own). It never returns into the template's code.

A case unit reads `messages.CaseMessage` frames on descriptor 0 and answers each with a
report frame (a `messages.CaseReport`) on descriptor 3, one case after another (with
`isolation: "case"`, each case in a fork of it); a test-code unit runs its tests here and
the solution in a child (`testcode.judge`). A Python program case runs here as `__main__`
(`program`).
"""

from __future__ import annotations

import fcntl
import math
import os
import resource
import signal
from typing import Any, NoReturn

from supervisor.exitcodes import SandboxExit
from supervisor.sandbox import confine, frames, function_case, libc, messages, program, pychecker
from supervisor.sandbox.testcode import judge

RESULT_FD = 3
CASES_FD = 0  # where a case unit's `messages.CaseMessage`s come


def become(unit: messages.Unit, fds: list[int], identity: confine.UnitIdentity) -> NoReturn:
    """Turn this freshly forked process into `unit`. Any failure before user code runs
    exits with `SandboxExit.BROKEN`: user code never runs half-confined."""
    try:
        if isinstance(unit, messages.InteractorUnit):
            # Before anything: the program beside it (the same uid) must never reach its
            # memory, descriptors or /proc entries (docs/api.md §4.4).
            libc.prctl(libc.PR_SET_DUMPABLE, 0)
        _arrange_descriptors(unit, fds)
        os.setsid()  # its own session and group: without namespaces, killpg reaches what it starts
        _take_identity(identity)
        _lower_limits(unit.limits)
        os.chdir(unit.cwd)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # oversize writes fail with EFBIG instead
        # An ignored signal stays ignored across exec: a program gets the default back.
        signal.signal(signal.SIGPIPE, signal.SIG_DFL if isinstance(unit, messages.StdioUnit) else signal.SIG_IGN)
    except BaseException:  # noqa: BLE001 - never run user code half-confined
        os._exit(SandboxExit.BROKEN)
    if isinstance(unit, messages.ProgramUnit):
        program.run(unit)  # never returns
    if isinstance(unit, messages.CheckerUnit):
        pychecker.run(unit, identity)  # never returns
    if isinstance(unit, messages.InteractorUnit):
        pychecker.interact(unit, identity)  # never returns
    if isinstance(unit, (messages.RunUnit, messages.ExecUnit)):
        os._exit(SandboxExit.BROKEN)  # commands are spawned (`spawn`), never run by a forked interpreter
    try:
        _serve_cases(unit)
    except BaseException:  # noqa: BLE001 - the init reports a case that died without a result
        os._exit(SandboxExit.BROKEN)
    os._exit(SandboxExit.DONE)


def _arrange_descriptors(unit: messages.Unit, fds: list[int]) -> None:
    """Stdio and the unit's own pipes at fixed numbers; every other descriptor closed,
    the template's control socket first of all (user code must not reach it)."""
    stdin, stdout, stderr, report = fds
    if isinstance(unit, messages.StdioUnit):
        sources = [stdin, stdout, stderr]
    else:
        null = os.open(os.devnull, os.O_RDWR)
        sources = [stdin, null, null, report]
    high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 100) for fd in sources]  # out of the targets' way
    for target, source in enumerate(high):
        os.dup2(source, target)
    os.closerange(len(high), confine.MAX_FD)


def _take_identity(identity: confine.UnitIdentity) -> None:
    """Give up the template's saved uid: from here on this process is only the sandbox user."""
    if identity.uid is not None:
        uid = identity.uid
        os.setresuid(uid, uid, uid)
        if os.getresuid() != (uid, uid, uid):
            raise OSError(1, "the uid change did not take")
    _raise_oom_score()  # user code first in line for the OOM killer
    resource.setrlimit(resource.RLIMIT_NPROC, (identity.max_processes, identity.max_processes))


def _raise_oom_score() -> None:
    """oom_score_adj 500, written with bare system calls: in a freshly forked process every
    object touched costs a copied page, and the io module touches many."""
    try:
        fd = os.open("/proc/self/oom_score_adj", os.O_WRONLY)
    except OSError:
        return  # a preference for the OOM killer, not a protection: never fatal
    try:
        os.write(fd, b"500")
    finally:
        os.close(fd)


def _lower_limits(limits: messages.UnitLimits) -> None:
    cpu_hard = limits.cpu_hard_seconds or limits.cpu_seconds + 1
    for kind, soft, hard in ((resource.RLIMIT_CPU, limits.cpu_seconds, cpu_hard),
                             (resource.RLIMIT_AS, limits.memory_bytes, limits.memory_bytes),
                             (resource.RLIMIT_FSIZE, limits.max_file_bytes, limits.max_file_bytes)):
        ceiling = resource.getrlimit(kind)[1]
        if ceiling != resource.RLIM_INFINITY:
            hard = min(hard, ceiling)
        resource.setrlimit(kind, (min(soft, hard), hard))


def _serve_cases(unit: messages.CaseUnit) -> None:
    """Answer the init's case messages until it closes this unit's stdin (see
    `messages.CaseUnit`); return when this process must serve no more cases."""
    try:
        code_object = function_case.compile_solution(unit.code)
    except (SyntaxError, ValueError, OverflowError, RecursionError, MemoryError) as exc:
        code_object, compiled = None, {"outcome": "compile_error", "error": function_case.format_error(exc)}
    else:
        compiled = {"outcome": "compiled"}
    solution = judge.start(code_object, unit.stdout_limit, RESULT_FD, CASES_FD) if (
        unit.tests and code_object is not None) else None
    module = function_case.Module(code_object, unit.stdout_limit) if (
        unit.isolation == "case" and not unit.tests and code_object is not None) else None
    while True:
        data = frames.read_fd(CASES_FD)
        if data is None:
            return
        message = messages.from_wire(messages.CaseMessage, data)
        if code_object is None or (message.input is None and message.test is None):
            _send(message, compiled)
            if code_object is None:
                return
            continue
        _allow_cpu(message.cpu_seconds)
        if solution is not None:
            report = solution.run(message, unit.entry_point)
        elif module is not None:
            _fork_case(module, unit, message)
            continue
        else:
            report = function_case.run_case(code_object, unit.entry_point, message.input or "", message.output,
                                            unit.stdout_limit, unit.float_tolerance)
        _send(message, report)
        if function_case.ends_process(report) or (solution is not None and solution.gone):
            return
        _quiet_timers()


def _fork_case(module: function_case.Module, unit: messages.CaseUnit, message: messages.CaseMessage) -> None:
    """`isolation: "case"`: the case in a fork of this process, which ran the module level.
    The fork stops itself after its report, so the init can read what it used before it
    ends it; this process waits for it, says how it ended (`ended`: the init's sign that
    the case is over, and the case's verdict if it never reported), and takes the next."""
    pid = os.fork()
    if pid == 0:
        try:
            _null_onto(CASES_FD)
            report = module.run_case(unit.entry_point, message.input or "", message.output, unit.float_tolerance)
            _send(message, report)
            os.kill(os.getpid(), signal.SIGSTOP)
        finally:
            os._exit(SandboxExit.DONE)
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:
        status = None
    _send(message, {"outcome": "ended", "wait_status": status})


def _allow_cpu(seconds: float) -> None:
    """This case's soft RLIMIT_CPU: what the process has used so far, plus the case's
    limit. User code could raise it up to the hard limit; the init measures each case's
    CPU from outside and stops it at its limit whatever this says (`meter.CpuWatch`)."""
    used = resource.getrusage(resource.RUSAGE_SELF)
    soft = math.ceil(used.ru_utime + used.ru_stime + seconds)
    hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
    try:
        resource.setrlimit(resource.RLIMIT_CPU, (soft if hard == resource.RLIM_INFINITY else min(soft, hard), hard))
    except (ValueError, OSError):
        pass  # user code lowered the hard limit: its own CPU to lose


def _quiet_timers() -> None:
    """Cancel the timers a case left running, so that they do not fire in the next one
    (a SIGALRM would end it). What else a case changes in this process (modules' state,
    signal handlers, the working directory) may pass to the next case, as in the
    service this one replaces (docs/api.md §4, isolation)."""
    signal.alarm(0)
    for which in (signal.ITIMER_REAL, signal.ITIMER_VIRTUAL, signal.ITIMER_PROF):
        signal.setitimer(which, 0)


def _null_onto(fd: int) -> None:
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, fd)
    os.close(null)


def _send(message: messages.CaseMessage, report: dict[str, Any]) -> None:
    frames.write_fd(RESULT_FD, {**report, "token": message.token})
