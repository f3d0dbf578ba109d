"""Runs in: the init.

An interactive program case (docs/api.md §4.4): the program and the request's interactor
run side by side, each in a unit of its own, and the init relays between them: what the
program prints goes to the interactor's stdin, what the interactor prints to the
program's stdin. Neither process holds a descriptor of the other; the init holds every
pipe, so a flood is bounded by what it buffers (`MAX_PENDING`, after which it stops
reading the writer), and a deadlock is the case's deadline passing.

The interactor is forked first and is not dumpable from its start (`unit.become`): it
says so on its stdout (`pychecker.READY`) before the init sends it its code, the case's
input and the answer, and only then is the program forked. So the program, which runs as
the same user, can never read them: not in a file, not in the interactor's memory,
descriptors or /proc entries.

The case's wall-clock limit covers both processes; the program has the case's CPU and
memory limits, the interactor its own `timeout` as CPU limit and the case's memory limit.
Only the interactor's verdict can pass the case (`verdict`).
"""

from __future__ import annotations

import json
import os
import select
import shlex
import time
from dataclasses import dataclass, field
from typing import Any

from supervisor.sandbox import execution, judges, messages, pychecker, watch
from supervisor.sandbox.execution import Execution, Ran

MAX_PENDING = 1 << 20  # bytes held for a reader that does not read, before the writer is no longer read
READY_TIMEOUT = 2.0  # seconds the interactor's unit may take to say it is ready (outside the case's limit)


@dataclass
class _Stream:
    """One pipe end of the init's: the program's or the interactor's stdin, stdout or stderr."""

    fd: int
    open: bool = True

    def close(self) -> None:
        if self.open:
            self.open = False
            try:
                os.close(self.fd)
            except OSError:
                pass


@dataclass
class Talk:
    """What the relay saw: the program's output (kept up to a limit), both stderrs, the
    ends of both processes and whether the deadline passed first."""

    program_out: bytearray = field(default_factory=bytearray)
    program_err: bytearray = field(default_factory=bytearray)
    interactor_err: bytearray = field(default_factory=bytearray)
    timed_out: bool = False
    duration_ms: float = 0.0
    interactor_ended: messages.Exit | None = None


def run_case(ex: Execution, unit: messages.ProgramUnit | messages.ExecUnit, spec: messages.JudgeSpec,
             case: messages.CaseSpec, timeout: float, memory_mb: int, stdout_limit: int,
             judge: judges.Judge | None = None) -> tuple[Ran, Ran]:
    """Run one case: the interactor and the program side by side (a command interactor
    runs in `judge`'s directory). Returns how the program ran (its output being what it
    sent the interactor) and how the interactor ran. Everything both started is dead
    when this returns."""
    started = time.monotonic()
    limits = execution.unit_limits(spec.timeout, memory_mb, judges.FILE_LIMIT)
    argv = tuple(shlex.split(spec.cmd)) if spec.cmd is not None else ()
    cwd = judge.directory if judge is not None else "/"
    interactor = ex.base.fork(messages.InteractorUnit(limits=limits, cwd=cwd, argv=argv))
    ex.base.awaited.add(interactor.seq)  # its pid and end outlive the program's fork
    try:
        return _run_case(ex, unit, spec, case, timeout, stdout_limit, started, interactor)
    finally:
        ex.base.awaited.discard(interactor.seq)


def _run_case(ex: Execution, unit: messages.ProgramUnit | messages.ExecUnit, spec: messages.JudgeSpec,
              case: messages.CaseSpec, timeout: float, stdout_limit: int, started: float,
              interactor: Any) -> tuple[Ran, Ran]:
    interactor_pid = ex.base.pid_of(interactor.seq)
    talk = Talk()
    program: Any = None
    streams = [_Stream(fd) for fd in (interactor.stdin, interactor.stdout, interactor.stderr)]
    try:
        ready = _await_ready(interactor.stdout, started + READY_TIMEOUT)
        frame = json.dumps({"code": spec.code, "input": case.input, "answer": case.output}).encode(
            "utf-8", "surrogatepass")
        if ready:
            program = ex.base.fork(unit)
            streams += [_Stream(fd) for fd in (program.stdin, program.stdout, program.stderr)]
            _relay(ex, interactor, interactor_pid, streams, ex.base.pid_of(program.seq),
                   len(frame).to_bytes(pychecker.FRAME_HEADER, "big") + frame, started + timeout, stdout_limit, talk)
    finally:
        talk.duration_ms = (time.monotonic() - started) * 1000
        ex.stopper(interactor_pid)(None)  # both (without namespaces: its process group), and all they started
        if program is not None:
            ex.stopper(ex.base.pid_of(program.seq))(None)
        _drain(streams, talk, stdout_limit)
        for stream in streams:
            stream.close()
    if talk.interactor_ended is None:
        talk.interactor_ended = ex.base.wait_exit(interactor.seq, execution.EXIT_REPORT_TIMEOUT)
    program_ended = ex.ended(ex.base, program.seq) if program is not None else messages.Exit(status=None)
    outcome = watch.Outcome(timed_out=talk.timed_out, duration_ms=talk.duration_ms)
    # Only what is shown is capped: the program's output was relayed whole.
    program_ran = Ran(stdout=bytes(talk.program_out), stderr=bytes(talk.program_err),
                      stdout_truncated=False, stderr_truncated=False,
                      outcome=outcome, ended=program_ended)
    interactor_ran = Ran(stdout=b"", stderr=bytes(talk.interactor_err), stdout_truncated=False,
                         stderr_truncated=False, outcome=watch.Outcome(timed_out=False, duration_ms=talk.duration_ms),
                         ended=talk.interactor_ended)
    return program_ran, interactor_ran


def _await_ready(fd: int, deadline: float) -> bool:
    """Wait for the interactor's one byte saying it is not dumpable any more."""
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                return os.read(fd, 1) == pychecker.READY
            except OSError:
                return False
    return False


def _relay(ex: Execution, interactor: Any, interactor_pid: int, streams: list[_Stream], program_pid: int,
           frame: bytes, deadline: float, stdout_limit: int, talk: Talk) -> None:
    """Copy between the two until both ended, the interactor ended with a verdict that
    gives no credit, or the deadline passed. After an acceptance or points the program is
    waited for: its credit needs it to end well too."""
    i_in, i_out, i_err, p_in, p_out, p_err = streams
    for stream in streams:
        os.set_blocking(stream.fd, False)
    to_interactor, to_program = bytearray(frame), bytearray()
    i_fd, p_fd = os.pidfd_open(interactor_pid), os.pidfd_open(program_pid)
    program_exited = False
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                talk.timed_out = True
                return
            poller = select.poll()
            wanted = {**({i_fd: select.POLLIN} if talk.interactor_ended is None else {}),
                      **({p_fd: select.POLLIN} if not program_exited else {})}
            if p_out.open and len(to_interactor) < MAX_PENDING:
                wanted[p_out.fd] = select.POLLIN
            if i_out.open and len(to_program) < MAX_PENDING:
                wanted[i_out.fd] = select.POLLIN
            for stream in (i_err, p_err):
                if stream.open:
                    wanted[stream.fd] = select.POLLIN
            if i_in.open and to_interactor:
                wanted[i_in.fd] = select.POLLOUT
            if p_in.open and to_program:
                wanted[p_in.fd] = select.POLLOUT
            for fd, events in wanted.items():
                poller.register(fd, events)
            for fd, _ in poller.poll(max(1, int(left * 1000))):
                if fd == i_fd:
                    talk.interactor_ended = ex.base.wait_exit(interactor.seq, execution.EXIT_REPORT_TIMEOUT)
                    status = talk.interactor_ended.status
                    credit = (judges.ACCEPTED, judges.POINTS)
                    if not (status is not None and os.WIFEXITED(status) and os.WEXITSTATUS(status) in credit):
                        return  # its verdict is given: the program has nothing more to say
                    i_in.close()
                    if program_exited:
                        return
                elif fd == p_fd:
                    program_exited = True
                    if talk.interactor_ended is not None:
                        return
                elif fd == p_out.fd:
                    chunk = _read(p_out)
                    if chunk and i_in.open:
                        to_interactor += chunk
                    room = stdout_limit - len(talk.program_out)
                    talk.program_out += chunk[: max(room, 0)]
                elif fd == i_out.fd:
                    chunk = _read(i_out)
                    if p_in.open:
                        to_program += chunk
                elif fd == i_err.fd:
                    _keep(talk.interactor_err, _read(i_err), judges.MESSAGE_LIMIT)
                elif fd == p_err.fd:
                    _keep(talk.program_err, _read(p_err), stdout_limit)
                elif fd == i_in.fd:
                    _write(i_in, to_interactor)
                elif fd == p_in.fd:
                    _write(p_in, to_program)
            # A writer's end reaches its reader once what it wrote has been passed on.
            if not p_out.open and not to_interactor:
                i_in.close()
            if not i_out.open and not to_program:
                p_in.close()
    finally:
        os.close(i_fd)
        os.close(p_fd)


def _drain(streams: list[_Stream], talk: Talk, stdout_limit: int) -> None:
    """Read what the dead processes left in their pipes: the interactor's message, the
    program's last words (their writers are all killed by now, so each pipe ends)."""
    kept = [(streams[2], talk.interactor_err, judges.MESSAGE_LIMIT)]
    if len(streams) == 6:
        kept += [(streams[5], talk.program_err, stdout_limit), (streams[4], talk.program_out, stdout_limit)]
    end = time.monotonic() + 0.5
    for stream, data, limit in kept:
        while stream.open and time.monotonic() < end:
            if select.select([stream.fd], [], [], 0.05)[0]:
                _keep(data, _read(stream), limit)


def _read(stream: _Stream) -> bytes:
    try:
        chunk = os.read(stream.fd, watch.READ_CHUNK)
    except BlockingIOError:
        return b""
    except OSError:
        chunk = b""
    if not chunk:
        stream.close()
    return chunk


def _write(stream: _Stream, pending: bytearray) -> None:
    try:
        written = os.write(stream.fd, pending[: watch.READ_CHUNK])
    except BlockingIOError:
        return
    except OSError:  # the reader went away: what it was sent is dropped
        pending.clear()
        stream.close()
        return
    del pending[:written]


def _keep(kept: bytearray, chunk: bytes, limit: int) -> None:
    kept += chunk[: max(limit - len(kept), 0)]
