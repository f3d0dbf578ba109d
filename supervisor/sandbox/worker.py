"""The unprivileged worker: the only process that runs user code (and its children).

A worker is forked by the sandbox's init before any job exists, drops its privileges at
once (`confine.drop_privileges`, at the ceiling limits), and then blocks reading one unit
from its `go` pipe. The unit lowers the limits to the job's own, moves into the session
directory, and is either one evaluation case (run here, the result written to the result
pipe) or one `/run` command (exec'd). Whatever happens, the worker never returns into the
init's code.
"""

from __future__ import annotations

import json
import os
import resource
import signal
from typing import Any, NoReturn

from supervisor.sandbox import evaluate

EXIT_BROKEN = 120


def main(go: int, result: int, environment: dict[str, str], warm_up: bool) -> NoReturn:
    """Wait for the unit, then become it."""
    try:
        if warm_up:
            _warm_up()
        unit = _read_unit(go)
        if unit is None:
            os._exit(0)  # the init gave up on us (the job never came)
        _lower_limits(unit["limits"])
        os.chdir(unit["cwd"])
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # oversize writes fail with EFBIG instead
        if unit["kind"] == "run":
            os.close(result)
            signal.signal(signal.SIGPIPE, signal.SIG_DFL)
            os.execve("/bin/sh", ["/bin/sh", "-c", unit["cmd"]], environment)
        _run_case(unit, result, environment)
    except BaseException:  # noqa: BLE001 - the init reports a worker that died without a result
        os._exit(EXIT_BROKEN)
    os._exit(0)


def _warm_up() -> None:
    """Run a throw-away case before the job arrives.

    A forked interpreter shares its parent's memory until it writes to it, and Python
    writes to every object it touches (reference counts): the first evaluation in a fresh
    worker spends milliseconds copying pages. Paid here, while the sandbox waits in the
    pool, that cost is off the request's critical path. Nothing of it stays visible: the
    case runs in its own globals and restores stdout.
    """
    code = evaluate.compile_solution("def warm_up(a, b=2):\n    return [a + b]")
    result = evaluate.run_case(code, "warm_up", "1, b=2", "[3]", 16)
    json.loads(json.dumps(result))
    evaluate.linecache.cache.pop(evaluate.SOLUTION_FILENAME, None)


def _read_unit(fd: int) -> dict[str, Any] | None:
    chunks = []
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(fd)
    return json.loads(b"".join(chunks)) if chunks else None


def _lower_limits(limits: dict[str, int]) -> None:
    """Bring the ceiling limits the worker was made with down to this job's."""
    for kind, soft, hard in ((resource.RLIMIT_CPU, limits["cpu_seconds"], limits["cpu_seconds"] + 1),
                             (resource.RLIMIT_AS, limits["memory_bytes"], limits["memory_bytes"]),
                             (resource.RLIMIT_FSIZE, limits["max_file_bytes"], limits["max_file_bytes"])):
        ceiling = resource.getrlimit(kind)[1]
        if ceiling != resource.RLIM_INFINITY:
            hard = min(hard, ceiling)
        resource.setrlimit(kind, (min(soft, hard), hard))


def _run_case(unit: dict[str, Any], result: int, environment: dict[str, str]) -> None:
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    os.environ.clear()
    os.environ.update(environment)
    try:
        code_object = evaluate.compile_solution(unit["code"])
    except (SyntaxError, ValueError, OverflowError, RecursionError, MemoryError) as exc:
        write_json(result, {"compile_error": evaluate.format_error(exc)})
        return
    case = unit["case"]
    if case is None:
        write_json(result, {"status": "passed"})
        return
    write_json(result, evaluate.run_case(code_object, unit["entry_point"], case["input"], case["output"],
                                         unit["stdout_limit"]))
    os.close(result)  # the end of the result: the init need not wait for this process to exit


def write_json(fd: int, value: object) -> None:
    """Write a worker's result to its result pipe (blocking; the init is reading)."""
    view = memoryview(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
    while view:
        try:
            view = view[os.write(fd, view):]
        except InterruptedError:
            continue
        except BrokenPipeError:
            return
