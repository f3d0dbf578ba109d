"""Runs in: the init.

Program cases (stdin/stdout), in the sandbox's init: run the program once per case and
judge what it wrote to stdout.

`code` is saved read-only at `PROGRAM_DIR/<main_file>`, a small tmpfs the init mounts for
the job and removes after it: never in the session directory, whose files it must not
change, and never in `/tmp`, which is renewed between units. Each case is a unit of its
own (the default runs the file with the sandbox's Python, `cmd` runs with `/bin/sh -c`),
with the case's stdin fed by the init; the expected stdout stays in the init, which
compares (`compare`) once the program has ended. So a program's only say in its
verdict is its output, and no case sees anything of another (the init cleans between
units, as for function cases). The order and limits of a unit are the caller's
(`init`): this module decides what runs and what its end means.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from supervisor.sandbox import compare, confine, libc, messages, watch

ERROR_TAIL = 4096  # characters of a failing program's stderr (or compiler's output) in `error`


@dataclass
class Ran:
    """How one program unit ended, as the init saw it."""

    stdout: bytes
    stderr: bytes
    stdout_truncated: bool
    stderr_truncated: bool
    outcome: watch.Outcome
    ended: messages.Exit


# (unit, stdin, stdout limit, stderr limit) -> how it ended
Runner = Callable[[messages.ExecUnit, bytes, int, int], Ran]


# --- the program file ------------------------------------------------------------------

def install(code: str, main_file: str, insecure: bool) -> str:
    """Save `code` read-only for the job's units; return its path."""
    data = code.encode("utf-8", "surrogatepass")
    if insecure:  # no mount namespace: a private directory of the host's /tmp
        directory = tempfile.mkdtemp(prefix="repl-program-")
        os.chmod(directory, 0o755)
    else:
        directory = confine.PROGRAM_DIR
        flags = libc.MS_NOSUID | libc.MS_NODEV
        libc.mount("tmpfs", directory, "tmpfs", flags, f"size={(len(data) >> 10) + 64}k,mode=755")
    path = os.path.join(directory, main_file)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o555)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)
    if not insecure:
        libc.mount(None, directory, None, libc.MS_REMOUNT | libc.MS_RDONLY | flags)
    return path


def remove(path: str, insecure: bool) -> None:
    """Take the program away after its job (every unit that used it is dead by now)."""
    directory = os.path.dirname(path)
    if insecure:
        shutil.rmtree(directory, ignore_errors=True)
        return
    libc.umount(directory, libc.MNT_DETACH)


# --- the evaluation --------------------------------------------------------------------

def evaluate(job: messages.EvaluateJob, path: str, limits: messages.UnitLimits, cwd: str, run: Runner,
             clean: Callable[[], None]) -> dict[str, Any]:
    """Compile once if asked, then run and judge each case; the reply body of /evaluate_code."""
    spec = job.program or messages.ProgramSpec()

    def unit(argv: tuple[str, ...]) -> messages.ExecUnit:
        return messages.ExecUnit(argv=argv, limits=limits, cwd=cwd, environment={"PROGRAM": path})

    if spec.compile is not None:
        ran = run(unit(("/bin/sh", "-c", spec.compile)), b"", job.stdout_limit, job.stdout_limit)
        failure = compile_failure(ran, job)
        if failure is not None:
            failed = [_result(i, c, status="error", error=failure) for i, c in enumerate(job.cases)]
            return {"passed": False, "case_results": failed, "error": failure}
    # The default: the sandbox's `python3` (the first on its PATH is the service's own
    # interpreter, the one function cases run in).
    argv = ("/bin/sh", "-c", spec.cmd) if spec.cmd is not None else ("python3", path)
    results: list[dict[str, Any]] = []
    budget = job.result_budget
    for index, case in enumerate(job.cases):
        if index or spec.compile is not None:
            clean()
        expected = case.output.encode("utf-8", "surrogatepass")
        # Room for any output that could match, but never past what the request may return.
        room = max(min(job.stdout_limit + len(expected), budget), 0)
        ran = run(unit(argv), case.input.encode("utf-8", "surrogatepass"), room, min(job.stdout_limit, room))
        result = judge(index, case, ran, job, spec)
        budget -= 2 * len(result["got"] or "") + len(result["stderr"] or "")
        results.append(result)
        if job.stop_on_first_failure and not result["passed"]:
            results += [_result(i, c, status="skipped") for i, c in enumerate(job.cases) if i > index]
            break
    return {"passed": all(r["passed"] for r in results), "case_results": results, "error": None}


def _result(index: int, case: messages.CaseSpec, **fields: Any) -> dict[str, Any]:
    """A case result, by default one that did not run (skipped, or after a failed compile)."""
    defaults: dict[str, Any] = dict(passed=False, got=None, expected=case.output, error=None, status="skipped",
                                    stdout="", stderr="", duration_ms=0.0)
    fields = {**defaults, **fields}
    stderr = fields.pop("stderr")
    return {**asdict(messages.CaseResult(case=index, input=case.input, **fields)), "stderr": stderr}


def judge(index: int, case: messages.CaseSpec, ran: Ran, job: messages.EvaluateJob,
          spec: messages.ProgramSpec) -> dict[str, Any]:
    """A case's result, decided here from how its process ended and its stdout, against
    the expected stdout of the request (which the program never saw)."""
    shown = ran.stdout[: job.stdout_limit].decode("utf-8", "replace")
    stderr = ran.stderr.decode("utf-8", "replace")
    usage = _usage(ran)
    fields: dict[str, Any] = dict(got=shown, stdout=shown, stderr=stderr, **usage)
    failure = _failure(ran, job, stderr)
    if failure is not None:
        status, error = failure
        return _result(index, case, status=status, error=error, **fields)
    got = ran.stdout.decode("utf-8", "surrogateescape")
    passed = compare.same_output(got, case.output, spec.compare, spec.rel_tol, spec.abs_tol)
    return _result(index, case, passed=passed, status="passed" if passed else "failed", **fields)


def _usage(ran: Ran) -> dict[str, Any]:
    reaped = ran.ended.status is not None
    return dict(duration_ms=round(ran.outcome.duration_ms, 3),
                cpu_ms=round(ran.ended.cpu_seconds * 1000, 3) if reaped else None,
                peak_memory_kb=ran.ended.maxrss_kb if reaped else None)


def _failure(ran: Ran, job: messages.EvaluateJob, stderr: str, what: str = "the program") -> tuple[str, str] | None:
    """(status, error) of a program (`what`) that did not end well, None for one that did."""
    status = ran.ended.status
    if ran.outcome.stopped:
        return "error", ran.outcome.stopped
    if ran.outcome.timed_out or _cpu_exhausted(ran.ended, job.cpu):
        return "timeout", "Timeout"
    if ran.stdout_truncated:
        return "error", f"OutputLimitExceeded: the stdout of {what} passed the limit of the case or of the request"
    if status is None:
        return "error", f"ProcessExit: the end of {what} was not reported"
    if os.WIFSIGNALED(status):
        name = signal.Signals(os.WTERMSIG(status)).name
        return "crashed", f"Crashed: killed by signal {name}" + _tail(stderr)
    code = os.WEXITSTATUS(status)
    if code == 0:
        return None
    last = stderr.rstrip().rpartition("\n")[2]
    kind = "memory" if last.startswith("MemoryError") else "error"
    return kind, f"ProcessExit: {what} exited with status {code}" + _tail(stderr)


def _cpu_exhausted(ended: messages.Exit, cpu_limit: float) -> bool:
    """Killed at its CPU limit: SIGXCPU, or any other unclean end past the limit (a shell
    reports its child's SIGXCPU as an exit status)."""
    status = ended.status
    if status is None:
        return False
    if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGXCPU:
        return True
    clean = os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    return not clean and ended.cpu_seconds >= cpu_limit


def _tail(text: str) -> str:
    text = text.rstrip()
    if not text:
        return ""
    return "\n" + (text if len(text) <= ERROR_TAIL else "..." + text[-ERROR_TAIL:])


def compile_failure(ran: Ran, job: messages.EvaluateJob) -> str | None:
    """The error every case carries when the compile step did not succeed, else None."""
    output = _tail(ran.stdout.decode("utf-8", "replace") + ran.stderr.decode("utf-8", "replace"))
    if ran.stdout_truncated and ran.ended.status == 0:
        return None  # a compiler that talks a lot but succeeds has compiled
    failure = _failure(ran, job, "", what="the compile command")
    if failure is None:
        return None
    status, error = failure
    reason = "the compile command timed out" if status == "timeout" else (error.partition(": ")[2] or error)
    return f"CompileError: {reason}{output}"
