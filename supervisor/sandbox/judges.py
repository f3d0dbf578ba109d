"""Runs in: the init.

A request's checker (docs/api.md §4.3), and the directory of a command interactor (§4.4,
`seal`, `unfit_program`; the interactor runs in `interaction`). A checker is the
grader's own program, which decides a case instead of a comparison. It runs after the
case, in a unit of its own (a Python checker: `pychecker`; a command: exec'd), never in
a process of the solution, with its own limits (`JudgeSpec.timeout`, the case's memory
limit).

What the solution must never see (the checker, its files, the answer and the case's
files) lives in a tmpfs the init mounts at `confine.JUDGE_DIR` for the job, owned by the
init and closed (mode 0700: the sandbox user cannot even traverse it) except while a
checker's unit runs; and a checker's unit only runs once every process of the case has
been killed and the sandbox cleaned (`Execution.clean`), so nothing of the solution is
alive while it is open. The checker's cwd is that directory, not the session; the
case's files are written there by the init, after the case, and removed after the check.

The protocol is testlib's (MikeMirzayanov/testlib, `testlib.h`: `OK_EXIT_CODE` 0,
`WA_EXIT_CODE` 1, `PE_EXIT_CODE` 2, `FAIL_EXIT_CODE` 3, `POINTS_EXIT_CODE` 7 with
`quitp` writing `points <p> <message>` to stderr, `UNEXPECTED_EOF_EXIT_CODE` 8), read
here the same way for both forms (`verdict_of`). Its partially-correct `_pc(n)`, which
exits with n itself, cannot be told from the others and is not read.
"""

from __future__ import annotations

import json
import math
import os
import shlex
from dataclasses import dataclass
from typing import Any

from supervisor.sandbox import confine, execution, jobfiles, messages, pychecker, values, verdicts
from supervisor.sandbox.execution import Execution, Ran

CODE_FILE = ".checker.py"  # a Python checker's code (a name `files` cannot take: they never start with a dot)
INPUT_FILE, OUTPUT_FILE, ANSWER_FILE = ".input", ".output", ".answer"
ROOM_MB = 64  # of the tmpfs, past the files: what a compile step may write
MESSAGE_LIMIT = 4096  # bytes of a checker's stderr kept for its message
FILE_LIMIT = 64 << 20  # largest file a checker may write (RLIMIT_FSIZE)
# testlib's exit statuses (testlib.h: OK/WA/PE/FAIL/POINTS/UNEXPECTED_EOF_EXIT_CODE; the last
# only with -DENABLE_UNEXPECTED_EOF, else such an end is a presentation error)
ACCEPTED, WRONG_ANSWER, PRESENTATION_ERROR, FAILURE, POINTS, UNEXPECTED_EOF = 0, 1, 2, 3, 7, 8
FAILED_KINDS = {WRONG_ANSWER: "WrongAnswer", PRESENTATION_ERROR: "PresentationError", UNEXPECTED_EOF: "UnexpectedEof"}


@dataclass(frozen=True)
class Checked:
    """A checked case's verdict: `status` passed, failed or error, its score, and the
    text for the case's `error` (None when it passed)."""

    status: str
    score: float
    error: str | None

    @property
    def passed(self) -> bool:
        return self.status == "passed"


@dataclass
class Judge:
    """A checker installed for one job."""

    spec: messages.JudgeSpec
    directory: str
    insecure: bool

    def open(self) -> None:
        """Let the checker's unit in (no process of the solution is alive)."""
        os.chmod(self.directory, 0o777)

    def close(self) -> None:
        """Shut the sandbox user out again, before anything of the solution runs."""
        os.chmod(self.directory, 0o700)

    def path(self, name: str) -> str:
        return os.path.join(self.directory, name)


def install(spec: messages.JudgeSpec, insecure: bool) -> Judge:
    """Mount the checker's directory, closed, and save its code and files there."""
    files = dict(spec.files)
    if spec.code is not None:
        files[CODE_FILE] = spec.code
    data = {name: text.encode("utf-8", "surrogatepass") for name, text in files.items()}
    size_kb = (sum(len(b) for b in data.values()) >> 10) + (ROOM_MB << 10)
    directory = jobfiles.make_directory(confine.JUDGE_DIR, size_kb, 0o700, insecure, prefix="repl-judge-")
    judge = Judge(spec=spec, directory=directory, insecure=insecure)
    judge.close()
    for name, content in data.items():
        jobfiles.write_file(judge.path(name), content, 0o644)
    return judge


def seal(judge: Judge) -> None:
    """Make everything in a command interactor's directory the init's and unreadable to
    the sandbox user, executables executable (mode 0711), then let the user traverse the
    directory: its program runs beside the solution's (`interaction`), which may then run
    it but never read it nor anything else there; exec'ing an unreadable program keeps
    the interactor not dumpable (`pychecker._exec_command`). Nothing to do without
    namespaces (insecure mode: nothing is hidden there)."""
    if judge.insecure:
        return
    for root, dirs, files in os.walk(judge.directory):
        for name in dirs:
            path = os.path.join(root, name)
            os.lchown(path, 0, 0)
            if not os.path.islink(path):
                os.chmod(path, 0o711)
        for name in files:
            path = os.path.join(root, name)
            os.lchown(path, 0, 0)
            if not os.path.islink(path):
                mode = os.lstat(path).st_mode
                os.chmod(path, 0o711 if mode & 0o111 else 0o600)
    os.chmod(judge.directory, 0o711)


def unfit_program(judge: Judge, cmd: str) -> str | None:
    """Why a sealed command interactor's program cannot run unreadable (the error every
    case then carries), or None: it must be a compiled program (an ELF executable) of its
    own directory. A script needs an interpreter that reads it, a link may lead out to a
    readable program; either would run dumpable beside the solution."""
    name = shlex.split(cmd)[0]
    real = os.path.realpath(os.path.join(judge.directory, name))
    why = None
    if not real.startswith(judge.directory + os.sep):
        why = "is a link out of its directory"
    else:
        try:
            with open(real, "rb") as program:
                head = program.read(4)
        except OSError:
            head = None
        if head is None:
            why = "does not exist (its compile step built no such file)"
        elif head != b"\x7fELF":
            why = "is no compiled program (an ELF executable): a script runs in an interpreter that reads it"
    if why is None:
        return None
    return (f"CheckerError: the interactor's program {name!r} {why}; it must be a program its compile step built in "
            "its directory, which runs unreadable so that the program beside it cannot read it")


def remove(judge: Judge) -> None:
    """Take the checker away after its job."""
    jobfiles.remove_directory(judge.directory, judge.insecure)


def _run(ex: Execution, judge: Judge, unit: messages.ExecUnit | messages.CheckerUnit) -> Ran:
    """Run one unit of the checker, its directory open only meanwhile. The caller has
    cleaned the sandbox since the solution's last unit; the next unit of the job is
    preceded by a clean too (`Execution.clean`), which kills whatever this one left.
    What it prints past MESSAGE_LIMIT is read and dropped: debug output is no reason for
    a checker to die of SIGPIPE before its verdict (its own timeout still bounds it)."""
    judge.open()
    try:
        return ex.run_stdio(unit, b"", (MESSAGE_LIMIT, MESSAGE_LIMIT), judge.spec.timeout, drain=True)
    finally:
        judge.close()


def _limits(judge: Judge, memory_mb: int) -> messages.UnitLimits:
    return execution.unit_limits(judge.spec.timeout, memory_mb, FILE_LIMIT)


def compile_checker(ex: Execution, judge: Judge, memory_mb: int, who: str = "checker") -> str | None:
    """Run the checker's (or interactor's: `who`) compile step, if it has one; the error
    every case then carries when it failed (`CheckerError: ...`), else None."""
    if judge.spec.compile is None:
        return None
    unit = messages.ExecUnit(argv=("/bin/sh", "-c", judge.spec.compile), limits=_limits(judge, memory_mb),
                             cwd=judge.directory)
    ran = _run(ex, judge, unit)
    if _ended_well(ran, judge):
        return None
    output = (ran.stdout + ran.stderr).decode("utf-8", "replace").strip()
    return f"CheckerError: the {who}'s compile step failed ({_how_it_ended(ran, judge.spec.timeout, who)})" + (
        f"\n{output}" if output else "")


def check(ex: Execution, judge: Judge, memory_mb: int, case_input: str, output: bytes, answer: bytes,
          values: bool) -> Checked:
    """Run the checker on one case whose process ended well, and read its verdict.
    `output` and `answer` are the bytes of the output and answer files (see
    `function_files` for a function case's)."""
    for name, content in ((INPUT_FILE, case_input.encode("utf-8", "surrogatepass")), (OUTPUT_FILE, output),
                          (ANSWER_FILE, answer)):
        jobfiles.write_file(judge.path(name), content, 0o644)
    try:
        limits = _limits(judge, memory_mb)
        paths = judge.path(INPUT_FILE), judge.path(OUTPUT_FILE), judge.path(ANSWER_FILE)
        unit: messages.ExecUnit | messages.CheckerUnit
        if judge.spec.code is not None:
            unit = messages.CheckerUnit(code=judge.path(CODE_FILE), input=paths[0], output=paths[1], answer=paths[2],
                                        values=values, limits=limits, cwd=judge.directory)
        else:
            assert judge.spec.cmd is not None  # noqa: S101 - a judge has one of the two forms (models.Judge)
            unit = messages.ExecUnit(argv=("/bin/sh", "-c", f'{judge.spec.cmd} "$@"', "checker", *paths),
                                     limits=limits, cwd=judge.directory)
        ran = _run(ex, judge, unit)
        if judge.spec.code is not None and _ended(ran, judge.spec.timeout):
            status = os.WEXITSTATUS(ran.ended.status or 0)
            if ran.stdout != pychecker.vouched(status):
                message = ran.stderr.decode("utf-8", "replace").strip()
                return _checker_error(f"the checker exited with status {status} without returning from check "
                                      "(os._exit, or a library's exit())", message)
        return verdict_of(ran, judge.spec.timeout)
    finally:
        for name in (INPUT_FILE, OUTPUT_FILE, ANSWER_FILE):
            try:
                os.unlink(judge.path(name))
            except FileNotFoundError:
                pass


def function_files(got: Any, expected: Any, python: bool) -> tuple[bytes, bytes]:
    """A function case's output and answer files: for a Python checker, the values in the
    tagged form `pychecker` rebuilds (`got` already is: the unit's report); for a command,
    the JSON the case's result shows (`values.to_wire`)."""
    if python:
        return json.dumps(got).encode(), json.dumps(values.encode(expected)).encode()
    shown = values.display_repr(values.decode(got)) if values.has_opaque(got) else values.to_wire(values.decode(got))
    return (json.dumps(shown, ensure_ascii=False).encode("utf-8", "surrogatepass") + b"\n",
            json.dumps(values.to_wire(expected), ensure_ascii=False).encode("utf-8", "surrogatepass") + b"\n")


def verdict_of(ran: Ran, timeout: float, who: str = "checker") -> Checked:
    """The case's verdict from how its checker (or interactor: `who`) ended, in testlib's
    protocol (module docstring), `timeout` its limit; one that hangs, crashes, fails or
    says something unreadable makes the case an `error` (the grader's fault), never a
    pass."""
    message = ran.stderr.decode("utf-8", "replace").strip()
    if not _ended(ran, timeout):
        return _checker_error(_how_it_ended(ran, timeout, who), message)
    status = os.WEXITSTATUS(ran.ended.status or 0)
    if status == ACCEPTED:
        return Checked("passed", 1.0, None)
    if status in FAILED_KINDS:
        kind = FAILED_KINDS[status]
        return Checked("failed", 0.0, f"{kind}: {message}" if message else kind)
    if status == FAILURE:
        return _checker_error(f"the {who} reported a failure (exit status 3)", message)
    if status == POINTS:
        return _points(message)
    return _checker_error(f"the {who} exited with status {status}, which is no verdict of testlib's "
                          "(0, 1, 2, 3, 7, 8)", message)


def _points(message: str) -> Checked:
    """testlib's `quitp`: stderr `points <p> [message]`; p must be a score in [0, 1]."""
    word, _, rest = message.partition(" ")
    number, _, text = rest.partition(" ")
    try:
        score = float(number)
    except ValueError:
        score = math.nan
    if word != "points" or not 0.0 <= score <= 1.0:
        return _checker_error("exit status 7 (points) needs stderr `points <p> [message]` with p in [0, 1]", message)
    if score == 1.0:
        return Checked("passed", 1.0, None)
    text = text.strip()
    return Checked("failed", score, f"PartialScore: {number}" + (f": {text}" if text else ""))


def _checker_error(why: str, message: str) -> Checked:
    return Checked("error", 0.0, f"CheckerError: {why}" + (f"\n{_tail(message)}" if message else ""))


def _tail(text: str) -> str:
    return text if len(text) <= MESSAGE_LIMIT else "..." + text[-MESSAGE_LIMIT:]


def _ended(ran: Ran, timeout: float) -> bool:
    """The checker exited by itself, within its limits (with any status)."""
    status = ran.ended.status
    limit = verdicts.of_limits(ran.outcome.stopped, ran.outcome.timed_out, status, ran.ended.cpu_seconds, timeout)
    return limit is None and status is not None and os.WIFEXITED(status)


def _ended_well(ran: Ran, judge: Judge) -> bool:
    return _ended(ran, judge.spec.timeout) and os.WEXITSTATUS(ran.ended.status or 0) == 0


def _how_it_ended(ran: Ran, timeout: float, who: str = "checker") -> str:
    status = ran.ended.status
    limit = verdicts.of_limits(ran.outcome.stopped, ran.outcome.timed_out, status, ran.ended.cpu_seconds, timeout)
    if limit is not None:
        return f"the {who} passed its time limit ({timeout:g} s)" if limit.status == "timeout" else limit.error
    if status is None:
        return f"the end of the {who} was not reported"
    if os.WIFSIGNALED(status):
        return f"the {who} was killed by signal {verdicts.signal_name(os.WTERMSIG(status))}"
    return f"the {who} exited with status {os.WEXITSTATUS(status)}"
