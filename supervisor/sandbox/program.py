"""Runs in: a unit (a Python program case).

A Python program case run as `python3 /program/main.py` would run it, but in this
process, a fork of the sandbox's warm template, instead of a new interpreter: the
interpreter's start (about 7 ms of CPU, most of a short program's cost) is paid once per
sandbox instead of once per case (docs/api.md §4.1).

What a program can observe of its interpreter is made as a new one would make it, step
by step in CPython's order (`Py_RunMain`):

- `sys.argv` and `sys.orig_argv`, `sys.path` (the program's directory first, then the
  interpreter's own), a fresh `__main__` module with `__file__`;
- `sys.stdin`, `sys.stdout` and `sys.stderr` new on descriptors 0, 1 and 2, with the
  encoding, error handlers and buffering the sandbox's environment gives a new
  interpreter (`PYTHONUNBUFFERED`: writes go straight through);
- the signal dispositions Python sets at start (SIGPIPE and SIGXFSZ ignored, SIGINT
  raising KeyboardInterrupt); no exit handler of the template's;
- at the end, as the interpreter ends: an uncaught exception printed by `sys.excepthook`
  (status 1), `SystemExit` as `sys.exit` means it, then the threads joined, the `atexit`
  handlers run and the standard streams flushed (status 120 when stdout cannot be).

What stays visible: the modules the template had loaded are in `sys.modules` (an
`import` of them costs nothing), and the program starts a few frames deeper than in a new
interpreter, so it can recurse a few frames less before RecursionError with the
default limit (docs/api.md §4.1 says how many).
"""

from __future__ import annotations

import atexit
import builtins
import importlib.machinery
import io
import os
import signal
import sys
import types
from typing import NoReturn

from supervisor.sandbox import messages

# The interpreter's own import path, as this process started with it (before anything of
# the service's was put first: `python -m` puts its working directory there).
INTERPRETER_PATH = tuple(sys.path[1:])
OUTPUT_FAILURE = 120  # what CPython exits with when it cannot flush stdout at the end


def run(unit: messages.ProgramUnit) -> NoReturn:
    """Run the program as `__main__` and exit as the interpreter would."""
    try:
        # The template's environment is already the sandbox's (`template.serve`): only the
        # unit's own is added (rebuilding the whole mapping copied a hundred pages).
        os.environ.update(unit.environment)
        _start_interpreter(unit.path)
        status = _run_main(unit.path)
        status = _finalize(status)
    except BaseException:  # noqa: BLE001 - a failure of ours: the program's end is not known
        status = 1
    os._exit(status & 0xFF if status >= 0 else 255)


def keep_interpreter_finders() -> None:
    """In the template, once: forget the import finders of every directory that is not
    the interpreter's own (the service's, where the template's modules came from), so that
    a program case, a fork of it, starts with the finders a new interpreter could have."""
    def interpreter_s(key: str) -> bool:
        return any(key == p or key.startswith(p.rstrip(os.sep) + os.sep) for p in INTERPRETER_PATH)
    for key in [k for k in sys.path_importer_cache if not (isinstance(k, str) and interpreter_s(k))]:
        del sys.path_importer_cache[key]


def _start_interpreter(path: str) -> None:
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    atexit._clear()
    sys.argv = [path]
    sys.orig_argv = [sys.executable, path]
    sys.path[:] = [os.path.dirname(path), *INTERPRETER_PATH]
    # The finders cached are the template's, of the interpreter's directories only
    # (`keep_interpreter_finders`): still valid (a finder notices a changed directory by its
    # mtime), and freeing them all copied about 160 pages.
    unbuffered = bool(os.environ.get("PYTHONUNBUFFERED"))
    for fd, name in enumerate(("stdin", "stdout", "stderr")):
        stream = _stream(fd, name, unbuffered)
        setattr(sys, name, stream)
        setattr(sys, f"__{name}__", stream)
    main = types.ModuleType("__main__")
    main.__dict__.update(__file__=path, __cached__=None, __builtins__=builtins,
                         __loader__=importlib.machinery.SourceFileLoader("__main__", path))
    sys.modules["__main__"] = main


def _stream(fd: int, name: str, unbuffered: bool) -> io.TextIOWrapper:
    """A standard stream as CPython makes it (`create_stdio`), with the encoding and error
    handler this interpreter chose for its own at start."""
    own = {"stdin": sys.__stdin__, "stdout": sys.__stdout__, "stderr": sys.__stderr__}[name]
    encoding = getattr(own, "encoding", None) or "utf-8"
    errors = "backslashreplace" if name == "stderr" else (getattr(own, "errors", None) or "strict")
    write = name != "stdin"
    raw = io.FileIO(fd, "wb" if write else "rb", closefd=False)
    raw.name = f"<{name}>"
    buffer: io.RawIOBase | io.BufferedIOBase
    if write and unbuffered:
        buffer = raw
    elif write:
        buffer = io.BufferedWriter(raw)
    else:
        buffer = io.BufferedReader(raw)
    text = io.TextIOWrapper(buffer, encoding=encoding, errors=errors, newline="\n",
                            line_buffering=False, write_through=unbuffered)
    setattr(text, "mode", "w" if write else "r")  # noqa: B010 - typed read-only, set as CPython does
    return text


def _run_main(path: str) -> int:
    """Compile and run the program; the exit status its end means."""
    main = sys.modules["__main__"]
    try:
        with open(path, "rb") as source:
            code = compile(source.read(), path, "exec", dont_inherit=True)
        exec(code, main.__dict__)  # noqa: S102 - the sandbox's program
    except SystemExit as exc:
        return _exit_status(exc)
    except BaseException as exc:  # noqa: BLE001 - printed as the interpreter prints it
        # Without this function's frame: the program's traceback starts at its module (a
        # SyntaxError of the program has none, and is printed without a "Traceback" line).
        traceback = exc.__traceback__.tb_next if exc.__traceback__ is not None else None
        exc = exc.with_traceback(traceback)
        try:
            sys.excepthook(type(exc), exc, traceback)
        except BaseException:  # noqa: BLE001 - a broken excepthook: the interpreter's own print
            sys.__excepthook__(type(exc), exc, traceback)
        if isinstance(exc, KeyboardInterrupt):
            return -signal.SIGINT
        return 1
    return 0


def _exit_status(exc: SystemExit) -> int:
    """`sys.exit(n)`: n; `sys.exit()`: 0; `sys.exit("message")`: the message on stderr, 1."""
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    try:
        sys.stderr.write(f"{code}\n")
        sys.stderr.flush()
    except BaseException:  # noqa: BLE001
        pass
    return 1


def _finalize(status: int) -> int:
    """What the interpreter does as it ends: join the threads, run the exit handlers,
    flush the standard streams."""
    threading = sys.modules.get("threading")
    if threading is not None:
        try:
            threading._shutdown()
        except BaseException:  # noqa: BLE001
            pass
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except BaseException:  # noqa: BLE001
            if stream is sys.stdout:
                status = OUTPUT_FAILURE
    if status == -signal.SIGINT:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    return status
