"""Runs in: a unit, from its fork until user code runs.

A unit's process: the only kind of process that runs user code (and its children).

The template forks one per unit (an evaluation case, a program case or a `/run` command). The fork
inherits the template's confinement (no capabilities, no-new-privs, seccomp, namespaces);
here it gives up the template's saved uid for good, lowers the limits to its job's,
moves into the session directory, closes every descriptor of the harness, and becomes
the unit (its environment is the template's, set to the sandbox's own). It never returns into the template's code.

A case writes one report frame (`frames` encoding, a `messages.CaseReport`) to descriptor 3;
a test-code case runs its tests here and the solution in a child (`judge`).
"""

from __future__ import annotations

import fcntl
import os
import resource
import signal
from typing import Any, NoReturn

from supervisor.exitcodes import SandboxExit
from supervisor.sandbox import confine, frames, function_case, messages
from supervisor.sandbox.testcode import judge

RESULT_FD = 3
TESTS_FD = 0  # a test-code case: where its test comes (`messages.TestMessage`)


def become(unit: messages.Unit, fds: list[int], identity: confine.UnitIdentity) -> NoReturn:
    """Turn this freshly forked process into `unit`. Any failure before user code runs
    exits with `SandboxExit.BROKEN`: user code never runs half-confined."""
    try:
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
    if isinstance(unit, messages.StdioUnit):
        _exec(unit, identity)
    try:
        _run_case(unit)
    except BaseException:  # noqa: BLE001 - the init reports a case that died without a result
        os._exit(SandboxExit.BROKEN)
    os._exit(SandboxExit.DONE)


def _exec(unit: messages.RunUnit | messages.ExecUnit, identity: confine.UnitIdentity) -> NoReturn:
    """Become the command (`sh -c`) or the program; 127 when it cannot be executed."""
    if isinstance(unit, messages.RunUnit):
        argv, environment = ["/bin/sh", "-c", unit.cmd], identity.environment
    else:
        argv, environment = list(unit.argv), {**identity.environment, **unit.environment}
    try:
        if "/" in argv[0]:
            os.execve(argv[0], argv, environment)
        os.execvpe(argv[0], argv, environment)  # found on the sandbox's PATH, as a shell would
    except BaseException:  # noqa: BLE001 - e.g. a NUL byte in the command
        os._exit(SandboxExit.COMMAND_NOT_RUN)


def _arrange_descriptors(unit: messages.Unit, fds: list[int]) -> None:
    """Stdio and the unit's own pipes at fixed numbers; every other descriptor closed,
    the template's control socket first of all (user code must not reach it)."""
    stdin, stdout, stderr, report = fds
    if isinstance(unit, messages.StdioUnit):
        sources = [stdin, stdout, stderr]
    else:
        null = os.open(os.devnull, os.O_RDWR)
        tests = stdin if isinstance(unit, messages.CaseUnit) and unit.tests_follow else null
        sources = [tests, null, null, report]
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
    for kind, soft, hard in ((resource.RLIMIT_CPU, limits.cpu_seconds, limits.cpu_seconds + 1),
                             (resource.RLIMIT_AS, limits.memory_bytes, limits.memory_bytes),
                             (resource.RLIMIT_FSIZE, limits.max_file_bytes, limits.max_file_bytes)):
        ceiling = resource.getrlimit(kind)[1]
        if ceiling != resource.RLIM_INFINITY:
            hard = min(hard, ceiling)
        resource.setrlimit(kind, (min(soft, hard), hard))


def _run_case(unit: messages.CaseUnit) -> None:
    try:
        code_object = function_case.compile_solution(unit.code)
    except (SyntaxError, ValueError, OverflowError, RecursionError, MemoryError) as exc:
        _send({"outcome": "compile_error", "error": function_case.format_error(exc)})
        return
    if unit.tests_follow:
        _send(judge.run(code_object, unit.entry_point, unit.stdout_limit, RESULT_FD, TESTS_FD))
        return
    if unit.case is None:
        _send({"outcome": "compiled"})
        return
    output = None if unit.expected_withheld else unit.case.output
    report = function_case.run_case(code_object, unit.entry_point, unit.case.input, output, unit.stdout_limit,
                               unit.float_tolerance)
    _send(report)


def _send(report: dict[str, Any]) -> None:
    frames.write_fd(RESULT_FD, report)
    os.close(RESULT_FD)

