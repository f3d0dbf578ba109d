"""Runs in: the template (`serve`) and the init (`Handle`, its end of it).

The template: a confined process, forked once per sandbox, that forks every unit.

Confining a process (rlimits, no-new-privs, dropping capabilities, changing uid,
installing seccomp) costs about as much as the fork itself, and a case's unit needs all
of it. So the sandbox's init confines one process, the template, once; every case and
every command is then a single fork of it, already confined, that only gives up the
template's saved uid (`become`).

The template never runs user code. It is unprivileged like the code it forks, but no
unit can touch it: it runs with real and saved uid `template_uid` (see
`confine.Target`), so a unit (only the sandbox uid) can neither signal nor trace
it, and /proc (`hidepid=2`) does not even show it. Because it never runs user code it can
be reused across requests; what a unit leaves behind is cleaned by the init
(`hygiene`).

Messages (frames over a stream socket; descriptors ride on a one-byte message before
the frame they belong to). The template never sees what a unit runs: the init writes the
unit (code, input, command) straight to the new process on a pipe passed with the fork
request, so nothing of one request stays in the template's memory for a later unit,
which starts as a copy of it, to find (only fork numbers, pids and exit statuses pass).
    init -> template: {"op": "fork", "seq": N} + the unit's four pipe ends (stdin, stdout,
                      stderr, report) + the pipe its unit will come on
                      | {"op": "spawn", "seq": N, "cwd": D, "limits": L} + a command unit's
                      stdin, stdout and stderr (`spawn`: its command comes from the init
                      on that stdin, never through here)
    template -> init: {"op": "ready"} | {"op": "forked", "pid": P, "seq": N}
                      | {"op": "unforked", "seq": N, "error": E} (the kernel made no process)
                      | {"op": "exited", "pid": P, "seq": N, "status": S, "cpu": C, "maxrss_kb": M}
"""

from __future__ import annotations

import dataclasses
import gc
import json
import os
import select
import signal
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar, NoReturn

from supervisor.exitcodes import SandboxExit
from supervisor.sandbox import confine, frames, function_case, messages, program, spawn, values
from supervisor.sandbox.unit import become

MAX_FDS = 5
FORK_ANSWER_TIMEOUT = 10.0  # seconds the template may take to say a fork's pid


class ForkFailed(OSError):
    """The template could not fork (its uid's process limit, memory): no process was made,
    so nothing was run."""


# --- the template process --------------------------------------------------------------

def serve(sock: socket.socket, identity: confine.UnitIdentity) -> NoReturn:
    """The template's loop (in a process already confined): fork units until the init
    closes the socket."""
    os.chdir("/")
    _default_dispositions()
    os.environ.clear()  # once here: every unit inherits exactly the sandbox's environment
    os.environ.update(identity.environment)
    _warm_up()
    program.keep_interpreter_finders()
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    gc.collect()
    gc.freeze()  # shared with every fork: a collection in a unit does not copy these pages
    _send(sock, {"op": "ready"})
    poller = select.poll()
    poller.register(sock.fileno(), select.POLLIN)
    poller.register(wake_r, select.POLLIN)
    children: dict[int, int] = {}  # pid -> the sequence number of the fork that made it
    environment = spawn.environment_list(identity.environment)
    while True:
        for fd, _ in poller.poll():
            if fd == wake_r:
                os.read(wake_r, 4096)
                _reap(sock, children)
                continue
            message, fds = _recv(sock)
            if message is None:
                os._exit(SandboxExit.DONE)  # the init is gone or done with us; our units die with the sandbox
            seq = int(message["seq"])
            try:
                if message["op"] == "spawn":
                    limits = messages.from_wire(messages.UnitLimits, message["limits"])
                    pid = _spawn_unit(fds, str(message["cwd"]), limits, identity, environment)
                else:
                    pid = _fork_unit(fds, identity)
            except ForkFailed as exc:
                _send(sock, {"op": "unforked", "seq": seq, "error": str(exc)})
                continue
            children[pid] = seq
            _send(sock, {"op": "forked", "pid": pid, "seq": seq})


# Python ignores these two itself at start; each unit and command sets them as it needs.
_PYTHONS_OWN = frozenset({signal.SIGPIPE, signal.SIGXFSZ})


def _default_dispositions() -> None:
    """Every signal the supervisor was started with ignored (`nohup` ignores SIGHUP, a
    shell's `&` SIGINT and SIGQUIT) back to its default: an ignored signal stays ignored
    across fork and exec, so every unit and command would start with it ignored, as no
    `python3 main.py` or `sh -c cmd` of the user's does."""
    for signum in signal.valid_signals():
        if signum not in _PYTHONS_OWN and signal.getsignal(signum) == signal.SIG_IGN:
            signal.signal(signum, signal.SIG_DFL)


def _fork_unit(fds: list[int], identity: confine.UnitIdentity) -> int:
    """Fork a unit. What it is to run (code, input, command) comes from the init straight
    to the new process, on the last descriptor: it never passes through the template, so
    no later unit, which starts as a copy of the template's memory, can find it there."""
    pid = _fork(fds)
    if pid == 0:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        try:
            unit = messages.from_wire(messages.Unit, read_message(fds[-1]))
        except BaseException:  # noqa: BLE001 - no unit, no user code
            os._exit(SandboxExit.BROKEN)
        become(unit, fds[:-1], identity)
    for fd in fds:
        os.close(fd)
    return pid


def _spawn_unit(fds: list[int], cwd: str, limits: messages.UnitLimits, identity: confine.UnitIdentity,
                environment: list[bytes]) -> int:
    """Spawn a command unit (`spawn`): `fds` are its stdin, stdout and stderr; the command
    itself comes from the init on its stdin, never through here."""
    try:
        return spawn.start(fds, environment, identity.uid, spawn.arguments(cwd),
                           spawn.rlimits(limits, identity.max_processes))
    except OSError as exc:
        raise ForkFailed(f"the template could not spawn a command: {exc.strerror}") from None
    finally:
        for fd in fds:
            os.close(fd)


def _fork(fds: list[int]) -> int:
    """`os.fork`; when the kernel makes no process, `ForkFailed`, with the descriptors
    meant for the child closed."""
    try:
        return os.fork()
    except OSError as exc:
        for fd in fds:
            os.close(fd)
        raise ForkFailed(f"the template could not fork: {exc.strerror}") from None


def read_message(fd: int) -> Any:
    """Read a JSON value from a pipe until its writer closes it."""
    chunks = []
    while chunk := os.read(fd, 1 << 16):
        chunks.append(chunk)
    os.close(fd)
    return json.loads(b"".join(chunks))


def write_message(fd: int, value: Any) -> None:
    """The writing side of `read_message`; a reader that died is no error here (the unit
    then exits without a report, which the init handles)."""
    data = memoryview(frames.dumps(value))
    try:
        while data:
            data = data[os.write(fd, data):]
    except BrokenPipeError:
        pass
    finally:
        os.close(fd)


def _warm_up() -> None:
    """Run a throw-away case here, in the template, before any unit is forked.

    A forked interpreter shares its parent's memory until it writes to it, and the first
    run of a code path writes a lot (caches filled, objects allocated and interned): done
    once here, every unit inherits the result instead of copying those pages itself.
    Nothing of it is visible to units: it runs in its own globals and restores stdout.
    """
    code = function_case.compile_solution("def warm_up(a, b=2):\n    return [a + b]")
    for expected in (None, "[3]"):
        # The case message as a case unit reads it, and its report as the unit sends it.
        sent = messages.CaseMessage(token="0" * 16, cpu_seconds=1.0, input="1, b=2", output=expected)
        frame = frames.first_frame(frames.encode(messages.to_wire(sent)))
        message = messages.from_wire(messages.CaseMessage, frame[0] if frame else None)
        report = function_case.run_case(code, "warm_up", message.input or "", message.output, 16)
        frames.encode({**report, "token": message.token})
        values.decode(report["got"])
    values.parse_literal("[3]")
    function_case.linecache.cache.pop(function_case.SOLUTION_FILENAME, None)


def _reap(sock: socket.socket, children: dict[int, int]) -> None:
    for exited in reap_children():
        exited["seq"] = children.pop(exited["pid"], None)
        _send(sock, exited)


def reap_children() -> Iterator[dict[str, Any]]:
    """An `exited` message for each child that has ended, without waiting: how it ended
    and what it used (the zygote reports its sandboxes the same way)."""
    while True:
        try:
            pid, status, usage = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        yield {"op": "exited", "pid": pid, "status": status,
               "cpu": usage.ru_utime + usage.ru_stime, "maxrss_kb": usage.ru_maxrss}


# --- transport -------------------------------------------------------------------------

def _send(sock: socket.socket, message: dict[str, Any], fds: list[int] | None = None) -> None:
    if fds:
        socket.send_fds(sock, [b"F"], fds)
    sock.sendall(frames.encode(message))


def _recv(sock: socket.socket) -> tuple[dict[str, Any] | None, list[int]]:
    """One message and the descriptors sent just before it."""
    fds: list[int] = []
    head = sock.recv(1, socket.MSG_PEEK)
    if not head:
        return None, []
    if head == b"F":
        _, fds, _, _ = socket.recv_fds(sock, 1, MAX_FDS)
    return frames.recv(sock), list(fds)


# --- the init's handle on it -------------------------------------------------------------

NO_FD = -1  # a command unit's: it has no unit pipe and no report pipe


def _write_all(fd: int, data: bytes) -> None:
    """Write `data` to a blocking pipe; a reader that died is no error here (how the
    process ended says what happened)."""
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(fd, view):]
    except BrokenPipeError:
        pass


@dataclass
class UnitHandle:
    """A unit process forked and waiting for what to run, and the init's ends of its
    pipes (a command's stdin, stdout and stderr; a case's report)."""

    seq: int
    unit_w: int
    stdin: int
    stdout: int
    stderr: int
    report: int

    def ends(self) -> tuple[int, ...]:
        return tuple(fd for fd in (self.unit_w, self.stdin, self.stdout, self.stderr, self.report) if fd != NO_FD)

    def close_unused(self, unit: messages.Unit) -> None:
        """Close the ends `unit` does not use (a command or a program reports nothing; a
        case unit reads its cases on stdin and writes no stdout or stderr: what a case
        prints is captured in its report)."""
        if isinstance(unit, messages.StdioUnit):
            unused: tuple[int, ...] = (self.report,)
        else:
            unused = (self.stdout, self.stderr)
        for fd in unused:
            os.close(fd)

    def close(self) -> None:
        for fd in self.ends():
            try:
                os.close(fd)
            except OSError:
                pass  # already handed over or closed


@dataclass
class Handle:
    """The init's end of a template: fork units, learn how they ended.

    Forks are numbered: pids repeat (the init resets the pid counter between executions),
    so an exit report is matched to the fork that made the process by its number, never
    by its pid.

    The template can keep one spare: a unit forked ahead of its job, after the sandbox
    was restored, that waits for what to run. The next job's first unit is then only the
    writing of a pipe: the fork and the forked interpreter's first page copies happened
    while the sandbox was idle. The spare runs with the template's uids until it gets
    its unit, so no user code can signal or trace it meanwhile.
    """

    pid: int
    sock: socket.socket
    exits: dict[int, messages.Exit] = field(default_factory=dict)
    alive: bool = True
    seq: int = 0
    pids: dict[int, int] = field(default_factory=dict)  # fork number -> pid, for live forks
    unforked: dict[int, str] = field(default_factory=dict)  # fork number -> why the template made no process
    spare: UnitHandle | None = None
    # Forks whose end is still awaited while later ones are made (an interactor beside its
    # program: `interaction`): their pids and reports are kept by `_request`.
    awaited: set[int] = field(default_factory=set)
    # Units handed something to run by any handle of this process: a job during which it
    # did not change when a fork failed ran nothing.
    started: ClassVar[int] = 0

    def fork(self, unit: messages.Unit) -> UnitHandle:
        """Have a unit run `unit`: a command spawned from C (`spawn`), else the spare if it
        is still waiting, else a new fork. The unit itself goes to the process on a pipe of
        its own, once the template has said that the process exists.

        Raises:
            ForkFailed: the template could not fork; `unit` went to no process.
            OSError: the template did not answer.
        """
        if isinstance(unit, (messages.RunUnit, messages.ExecUnit)):
            return self._spawn(unit)
        forked, self.spare = self.spare, None
        if forked is not None:
            self._file_reports()
        if forked is not None and (forked.seq in self.exits or forked.seq in self.unforked):
            forked.close()  # the spare died while waiting (it never does on its own), or was never made
            forked = None
        if forked is None:
            forked = self._fork_unit()
        try:
            self.pid_of(forked.seq)
        except OSError:
            forked.close()
            raise
        forked.close_unused(unit)
        write_message(forked.unit_w, messages.to_wire(unit))
        Handle.started += 1
        return forked

    def _spawn(self, unit: messages.RunUnit | messages.ExecUnit) -> UnitHandle:
        """A command unit (`spawn`): the template starts the shell that lowers its limits
        and waits on its stdin; once its pid is known, its OOM score is raised from here,
        and only then does the script that runs the command go out, ahead of the
        command's own stdin."""
        in_r, in_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        theirs = [in_r, out_w, err_w]
        try:
            seq = self._request("spawn", theirs, cwd=unit.cwd, limits=dataclasses.asdict(unit.limits))
        except BaseException:
            for fd in (in_w, out_r, err_r):
                os.close(fd)
            raise
        finally:
            for fd in theirs:
                os.close(fd)
        spawned = UnitHandle(seq, NO_FD, in_w, out_r, err_r, NO_FD)
        try:
            pid = self.pid_of(seq)
        except OSError:
            spawned.close()
            raise
        spawn.raise_oom_score(pid)
        _write_all(in_w, spawn.script(unit))
        Handle.started += 1
        return spawned

    def _file_reports(self) -> None:
        """Read the reports the template has already sent (a spare's exit among them),
        without waiting for more."""
        while self.alive and select.select([self.sock], [], [], 0)[0]:
            if self._next(time.monotonic() + 1) is None:
                return

    def check_fork(self) -> None:
        """Fork the spare now and wait until it exists: a sandbox whose template cannot
        fork cannot serve.

        Raises:
            ForkFailed: the template could not fork.
            OSError: the template did not answer.
        """
        self.keep_spare()
        if self.spare is None:
            raise OSError("the template did not fork the unit")
        self.pid_of(self.spare.seq)

    def keep_spare(self) -> None:
        """Fork the spare now, without waiting for the template to answer."""
        if self.spare is None and self.alive:
            try:
                self.spare = self._fork_unit()
            except OSError:
                pass  # the template is gone: the next job finds out and starts another

    def protected(self) -> frozenset[int]:
        """The pids hygiene must spare: this template and its waiting spare."""
        spare = self.pids.get(self.spare.seq) if self.spare is not None else None
        if self.spare is not None and spare is None:
            spare = self.pid_of(self.spare.seq)
        return frozenset(p for p in (self.pid, spare) if p is not None)

    def reset_scheduling(self) -> None:
        """Put this template and its waiting spare back at the scheduling every sandbox
        starts with: normal policy, nice 0, every CPU the init may use.

        setpriority, sched_setscheduler and sched_setaffinity check only the caller's
        uid against the target's effective uid, and both run with the sandbox user's
        effective uid, so user code of a job can change them (nice 19, SCHED_IDLE, one
        CPU); every later unit would inherit that from its fork. The init (root) undoes
        it after each job, before the next spare is forked.
        """
        cpus = os.sched_getaffinity(0)
        for pid in self.protected():
            try:
                os.sched_setscheduler(pid, os.SCHED_OTHER, os.sched_param(0))
                os.setpriority(os.PRIO_PROCESS, pid, 0)
                os.sched_setaffinity(pid, cpus)
            except ProcessLookupError:
                pass  # died meanwhile: the next job finds out and starts another
            except PermissionError:
                pass  # insecure mode without the privilege: its units are the user's own

    def _fork_unit(self) -> UnitHandle:
        unit_r, unit_w = os.pipe()
        in_r, in_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        report_r, report_w = os.pipe()
        theirs = [in_r, out_w, err_w, report_w, unit_r]
        try:
            seq = self._request("fork", theirs)
        except BaseException:
            for fd in (unit_w, in_w, out_r, err_r, report_r):
                os.close(fd)
            raise
        finally:
            for fd in theirs:
                os.close(fd)
        return UnitHandle(seq, unit_w, in_w, out_r, err_r, report_r)

    def _request(self, op: str, fds: list[int], **fields: Any) -> int:
        """Send a fork request; its pid arrives later (see `pid_of`)."""
        self.seq += 1
        keep = ({self.spare.seq} if self.spare is not None else set()) | self.awaited
        # Reports and pids of earlier forks nobody waits for any more.
        self.exits = {s: e for s, e in self.exits.items() if s in keep}
        self.pids = {s: p for s, p in self.pids.items() if s in keep}
        self.unforked = {s: e for s, e in self.unforked.items() if s in keep}
        _send(self.sock, {"op": op, "seq": self.seq, **fields}, fds)
        return self.seq

    def pid_of(self, seq: int) -> int:
        """The pid of fork `seq`, once the template has said it.

        Raises:
            ForkFailed: the template could not fork.
            OSError: the template did not answer in time or is gone.
        """
        deadline = time.monotonic() + FORK_ANSWER_TIMEOUT
        while seq not in self.pids:
            if seq in self.unforked:
                raise ForkFailed(self.unforked[seq])
            if self._next(deadline) is None:
                raise OSError("the template did not fork the unit")
        return self.pids[seq]

    def wait_ready(self, timeout: float) -> bool:
        message = self._next(time.monotonic() + timeout)
        return message is not None and message.get("op") == "ready"

    def wait_exit(self, seq: int, timeout: float) -> messages.Exit:
        """How the process of fork `seq` ended; status None if the template did not say in time."""
        deadline = time.monotonic() + timeout
        while seq not in self.exits:
            if self._next(deadline) is None:
                return messages.Exit(status=None)
        return self.exits.pop(seq)

    def close(self) -> None:
        self.alive = False
        if self.spare is not None:
            self.spare.close()
            self.spare = None
        self.sock.close()

    def _next(self, deadline: float) -> dict[str, Any] | None:
        """The next message that is not about a fork (exit reports are filed in `exits`
        and pids in `pids`, by fork number), or None at the deadline or when the template
        is gone."""
        while self.alive:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.sock], [], [], left)[0]:
                return None
            try:
                message, _ = _recv(self.sock)
            except (OSError, ValueError):
                message = None
            if message is None:
                self.alive = False
                return None
            op, seq = message.get("op"), message.get("seq")
            if op == "exited":
                if seq is not None:
                    self.exits[int(seq)] = messages.Exit(
                        status=int(message["status"]), cpu_seconds=float(message["cpu"]),
                        maxrss_kb=int(message["maxrss_kb"]))
                return {"op": "exited"}
            if op == "forked" and seq is not None:
                self.pids[int(seq)] = int(message["pid"])
                return {"op": "forked"}
            if op == "unforked" and seq is not None:
                self.unforked[int(seq)] = str(message.get("error"))
                return {"op": "unforked"}
            return message
        return None
