"""Runs in: a unit (one run of a Python checker, or of a Python interactor).

A Python checker (`checker.code`, docs/api.md §4.3) run on one case, in a unit of its
own, forked from the warm template like a Python program case (`program`), after the
case's own processes are dead: the solution never shares a process with it. This module
turns `check(input, expected, output)` into testlib's protocol, so the init reads one
protocol whichever form the checker has (`judges.verdict_of`):

| `check` returns (or raises)                    | exit status | stderr                  |
|------------------------------------------------|-------------|-------------------------|
| True, or a score of 1                          | 0           | the message, if any     |
| False, or a score of 0                         | 1           | the message, if any     |
| a score strictly between 0 and 1               | 7 (points)  | `points <score> <message>` |
| anything else, or an exception                 | 3 (failure) | what was wrong          |

A result is `verdict_or_score` or `(verdict_or_score, message)`. `input`, `expected` and
`output` are text for a program case (its stdin, the expected stdout, what it printed);
for a function case, `input` is the call's argument text and `expected` and `output` the
values (rebuilt from `values.encode`'s form: a value of the solution's own class is an
`Opaque`, whose repr is the solution's repr of it).
"""

from __future__ import annotations

import json
import math
import numbers
import os
import signal
import sys
import traceback
import types
from typing import Any, NoReturn

from supervisor.sandbox import confine, messages, values

ACCEPTED, WRONG_ANSWER, FAILURE, POINTS = 0, 1, 3, 7  # testlib's exit statuses (judges.py cites them)


def vouched(status: int) -> bytes:
    """What a Python checker's stdout holds when this module chose its exit `status`:
    `check` is the grader's code, and whatever ends its process otherwise (os._exit, a C
    library's exit(), as OpenBLAS's when it cannot allocate) leaves a status that is no
    verdict. The checker's own prints go to /dev/null, as they always did."""
    return f"verdict {status}\n".encode()


class _Refused(Exception):
    """`check` returned something that is no verdict."""


def run(unit: messages.CheckerUnit, identity: confine.UnitIdentity) -> NoReturn:
    """Load the checker, call `check` on the case, exit with testlib's status (and say so
    on the stdout the checker's code never has: `vouched`)."""
    status = FAILURE
    verdict = os.dup(1)  # close-on-exec: nothing the checker runs inherits it
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.close(null)
    try:
        os.environ.clear()
        os.environ.update(identity.environment)
        status = _run(unit)
    except BaseException:  # noqa: BLE001 - a failure of ours or the checker's: never a verdict
        _say(traceback.format_exc(limit=-8))
    try:
        sys.stderr.flush()
        os.write(verdict, vouched(status))
    except BaseException:  # noqa: BLE001
        pass
    os._exit(status)


def _run(unit: messages.CheckerUnit) -> int:
    # New streams on descriptors 0-2 (the template's are not this process's).
    streams = {"stdin": open(os.devnull), "stdout": open(1, "w", closefd=False),  # noqa: SIM115
               "stderr": open(2, "w", closefd=False, errors="backslashreplace")}  # noqa: SIM115
    for name, stream in streams.items():
        setattr(sys, name, stream)
        setattr(sys, f"__{name}__", stream)
    sys.argv = [unit.code]
    sys.path[:0] = [os.path.dirname(unit.code)]  # the checker's own files import as modules
    check = _load(unit.code)
    given = _read(unit.input, False), _read(unit.answer, unit.values), _read(unit.output, unit.values)
    try:
        result = check(*given)
    except BaseException:  # noqa: BLE001 - the checker's own failure
        _say("check raised\n" + traceback.format_exc(limit=-8))
        return FAILURE
    return _exit_status(result, "check")


def _load(path: str) -> Any:
    """The checker's module, run once (its module level), and its `check`."""
    with open(path, "rb") as source:
        return _function(source.read(), "checker", "check", "check(input, expected, output)", path)


def _function(source: bytes | str, name: str, function: str, signature: str, path: str | None = None) -> Any:
    """Run the grader's module `source` (its module level) and return its `function`."""
    module = types.ModuleType(name)
    module.__file__ = path
    sys.modules[name] = module
    code = compile(source, name, "exec", dont_inherit=True)
    exec(code, module.__dict__)  # noqa: S102 - the grader's code, in its own sandboxed unit
    found = module.__dict__.get(function)
    if not callable(found):
        raise TypeError(f"the {name}'s code defines no function {signature}")
    return found


def _read(path: str, tagged: bool) -> Any:
    with open(path, encoding="utf-8", errors="surrogateescape" if not tagged else "strict") as file:
        text = file.read()
    return values.decode(json.loads(text)) if tagged else text


# --- interactors ---------------------------------------------------------------------------

READY = b"R"  # on stdout once this process is not dumpable: the init may send the frame
FRAME_HEADER = 8  # bytes of the frame's length, big-endian, before its JSON
MAX_LINE = 1 << 20  # bytes of one line from the program; a longer one is its wrong answer


class ProgramMisbehaved(EOFError):
    """What the program sent cannot be a line of the conversation (its fault, not the
    interactor's)."""


def interact(unit: messages.InteractorUnit, identity: confine.UnitIdentity) -> NoReturn:
    """Say ready, read the frame (`{code, input, answer}`), call `interact(input,
    answer, receive, send)` while the program runs beside, exit with testlib's status;
    or, for a command interactor, exec it (`_exec_command`). The unit made itself not
    dumpable before this (`unit.become`)."""
    status = FAILURE
    try:
        os.environ.clear()
        os.environ.update(identity.environment)
        if unit.argv:
            _exec_command(unit)  # returns only when it cannot
            status = FAILURE
        else:
            signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # a program gone is an exception, not a death
            status = _interact()
    except BaseException:  # noqa: BLE001 - a failure of ours or the interactor's: never a verdict
        _say(traceback.format_exc(limit=-8))
    try:
        sys.stderr.flush()
    except BaseException:  # noqa: BLE001
        pass
    os._exit(status)


def _interact() -> int:
    reader = open(0, "rb", closefd=False)  # noqa: SIM115 - the frame, then what the program prints
    writer = open(1, "wb", buffering=0, closefd=False)  # noqa: SIM115 - to the program, unbuffered
    error = open(2, "w", closefd=False, errors="backslashreplace")  # noqa: SIM115
    for name, stream in (("stdin", open(os.devnull)), ("stdout", error), ("stderr", error)):  # noqa: SIM115
        setattr(sys, name, stream)  # the interactor's print() is its message, never the program's input
        setattr(sys, f"__{name}__", stream)
    writer.write(READY)
    size = int.from_bytes(_read_exactly(reader, FRAME_HEADER), "big")
    frame = json.loads(_read_exactly(reader, size))
    function = _function(frame["code"], "interactor", "interact", "interact(input, answer, receive, send)")

    def receive() -> str:
        """The program's next line, without its line end; EOFError once it closed its
        output (ProgramMisbehaved, an EOFError, for a line past MAX_LINE bytes)."""
        line = reader.readline(MAX_LINE + 1)
        if not line:
            raise EOFError("the program's output ended")
        if len(line) > MAX_LINE:
            raise ProgramMisbehaved(f"a line longer than {MAX_LINE} bytes")
        return line.decode("utf-8", "surrogateescape").removesuffix("\n")

    def send(text: Any) -> None:
        """Write `text` and a line end to the program."""
        writer.write(f"{text}\n".encode("utf-8", "surrogateescape"))

    try:
        result = function(frame["input"], frame["answer"], receive, send)
    except (EOFError, BrokenPipeError) as exc:  # the program stopped talking: its fault
        _say(f"the program stopped talking: {type(exc).__name__}: {exc}")
        return WRONG_ANSWER
    except BaseException:  # noqa: BLE001 - the interactor's own failure
        _say("interact raised\n" + traceback.format_exc(limit=-8))
        return FAILURE
    return _exit_status(result, "interact")


def _exec_command(unit: messages.InteractorUnit) -> None:
    """A command interactor in testlib's protocol: `<program> <input_file> <output_file>
    <answer_file>`, the files in memory (memfds, named by /proc/self/fd), its stdin and
    stdout the program's. Its program must be one the sandbox user cannot read: exec'ing
    it keeps this process not dumpable (the kernel's rule for an unreadable executable),
    where anything readable (a shell, an interpreter) would make it dumpable again and
    open the answer to the program beside it."""
    os.write(1, READY)
    size = int.from_bytes(_read_raw(FRAME_HEADER), "big")
    frame = json.loads(_read_raw(size))  # exactly the frame: what follows is the program's
    path = os.path.join(unit.cwd, unit.argv[0])
    if not os.access(path, os.X_OK) or os.access(path, os.R_OK):
        _say(f"the interactor's program {unit.argv[0]!r} must be an executable the sandbox user cannot read "
             "(one built by its compile step in its directory): the program beside it could read it otherwise")
        return
    fds = []
    for name, text in (("input", frame["input"]), ("output", ""), ("answer", frame["answer"])):
        fd = os.memfd_create(name, 0)  # inherited by the interactor
        data = memoryview(text.encode("utf-8", "surrogateescape"))
        while data:
            data = data[os.write(fd, data):]
        os.lseek(fd, 0, os.SEEK_SET)
        fds.append(fd)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    os.execv(path, [*unit.argv, *(f"/proc/self/fd/{fd}" for fd in fds)])


def _read_raw(size: int) -> bytes:
    """`size` bytes of stdin, never one more."""
    data = bytearray()
    while len(data) < size:
        chunk = os.read(0, size - len(data))
        if not chunk:
            raise EOFError("the frame was cut short")
        data += chunk
    return bytes(data)


def _read_exactly(reader: Any, size: int) -> bytes:
    data = reader.read(size)
    if len(data) != size:
        raise EOFError("the frame was cut short")
    return bytes(data)


def _exit_status(result: Any, name: str) -> int:
    """testlib's exit status (and the message on stderr) for what the grader's function returned."""
    try:
        score, message = _verdict(result)
    except _Refused as exc:
        _say(f"{name} returned {values.safe_repr(result)[:200]}: {exc}")
        return FAILURE
    if score == 1.0:
        _say(message)
        return ACCEPTED
    if score == 0.0:
        _say(message)
        return WRONG_ANSWER
    _say(f"points {score!r}" + (f" {message}" if message else ""))
    return POINTS


def _verdict(result: Any) -> tuple[float, str]:
    """The score in [0, 1] and the message of what `check` returned."""
    message = ""
    if type(result) is tuple:
        if len(result) != 2:
            raise _Refused("a tuple must be (verdict_or_score, message)")
        result, message = result
        if not isinstance(message, str):
            raise _Refused("the message must be a str")
    result = _plain(result)
    if type(result) is bool:
        return (1.0 if result else 0.0), message
    if isinstance(result, numbers.Real):  # int, float, Fraction, numpy's numbers
        score = float(result)
        if math.isnan(score) or not 0.0 <= score <= 1.0:
            raise _Refused("a score must be a number in [0, 1]")
        return score, message
    raise _Refused("expected True/False, a score in [0, 1], or (verdict_or_score, message)")


def _plain(value: Any) -> Any:
    """A numpy scalar (`np.bool_` from `np.isclose`, `np.float64` from `np.mean`) as the
    Python value it holds, so that a grader's numpy result reads as it would in Python."""
    if type(value).__module__ == "numpy" and getattr(value, "shape", None) == () and hasattr(value, "item"):
        return value.item()
    return value


def _say(message: str) -> None:
    if message:
        try:
            sys.stderr.write(message.rstrip("\n") + "\n")
        except BaseException:  # noqa: BLE001
            pass
