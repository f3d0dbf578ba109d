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
units, as for function cases). This module decides what runs and what its end means;
`execution` runs each unit.
"""

from __future__ import annotations

import os
from typing import Any

from supervisor.sandbox import compare, confine, execution, interaction, jobfiles, judges, libc, messages, verdicts
from supervisor.sandbox.execution import Execution, Ran

ERROR_TAIL = 4096  # characters of a failing program's stderr (or compiler's output) in `error`


# --- the program file ------------------------------------------------------------------

def install(code: str, main_file: str, insecure: bool) -> str:
    """Save `code` read-only for the job's units; return its path."""
    data = code.encode("utf-8", "surrogatepass")
    directory = jobfiles.make_directory(confine.PROGRAM_DIR, (len(data) >> 10) + 64, 0o755, insecure,
                                        prefix="repl-program-")
    path = os.path.join(directory, main_file)
    jobfiles.write_file(path, data, 0o555, exclusive=True)
    if not insecure:
        libc.mount(None, directory, None, libc.MS_REMOUNT | libc.MS_RDONLY | jobfiles.FLAGS)
    return path


def remove(path: str, insecure: bool) -> None:
    """Take the program away after its job."""
    jobfiles.remove_directory(os.path.dirname(path), insecure)


# --- the evaluation --------------------------------------------------------------------

def evaluate(job: messages.EvaluateJob, ex: Execution) -> dict[str, Any]:
    """Save the program, compile once if asked, then run and judge each case; the reply
    body of /evaluate_code. The program is removed afterwards."""
    spec = job.program
    assert spec is not None  # noqa: S101 - the init sends program jobs only here
    path = install(job.code, spec.main_file, ex.config.insecure)
    grader = job.checker or (job.interactor if job.interactor is not None and job.interactor.cmd else None)
    judge = judges.install(grader, ex.config.insecure) if grader is not None else None
    try:
        return _evaluate(job, spec, path, ex, judge)
    finally:
        if judge is not None:
            judges.remove(judge)
        remove(path, ex.config.insecure)


def _evaluate(job: messages.EvaluateJob, spec: messages.ProgramSpec, path: str, ex: Execution,
              judge: judges.Judge | None) -> dict[str, Any]:
    limits = execution.unit_limits(job.cpu, job.memory_mb, job.fsize)

    environment = {"PROGRAM": path}

    def run(argv: tuple[str, ...] | None, stdin: bytes, stdout_limit: int, stderr_limit: int) -> Ran:
        unit = _unit(argv, path, limits, ex, environment)
        return ex.run_stdio(unit, stdin, (stdout_limit, stderr_limit), job.timeout)

    ran_before = judge is not None and judge.spec.compile is not None  # the next unit starts from a clean sandbox
    failure = _prepare_judge(job, ex, judge)
    if failure is None and spec.compile is not None:
        if ran_before:
            ex.clean()
        ran = run(("/bin/sh", "-c", spec.compile), b"", job.stdout_limit, job.stdout_limit)
        ran_before = True
        failure = compile_failure(ran, job)
    if failure is not None:
        failed = [_result(i, c, status="error", error=failure) for i, c in enumerate(job.cases)]
        return messages.evaluation_reply(failed, failure)
    # The default: the program run as `python3 main.py` would run it, by the interpreter
    # function cases run in (the sandbox's `python3`), from a warm fork of it.
    argv = ("/bin/sh", "-c", spec.cmd) if spec.cmd is not None else None
    results: list[dict[str, Any]] = []
    budget = job.result_budget
    for index, case in enumerate(job.cases):
        if index or ran_before:
            ex.clean()
        if job.interactor is not None:  # the interactor feeds the program and decides (`interaction`)
            program_ran, interactor_ran = interaction.run_case(
                ex, _unit(argv, path, limits, ex, environment), job.interactor, case, job.timeout, job.memory_mb,
                job.stdout_limit, judge)
            result = _interacted(index, case, program_ran, interactor_ran, job)
        else:
            expected = case.output.encode("utf-8", "surrogatepass")
            # Room for any output that could match, but never past what the request may return.
            # A checker reads what the program printed up to the case's cap.
            room = max(min(job.stdout_limit + (0 if judge else len(expected)), budget), 0)
            ran = run(argv, case.input.encode("utf-8", "surrogatepass"), room, min(job.stdout_limit, room))
            result = _judged(index, case, ran, job, spec, ex, judge)
        budget -= 2 * len(result["got"] or "") + len(result["stderr"] or "")
        results.append(result)
        if job.stop_on_first_failure and not result["passed"]:
            results += [_result(i, c, status="skipped") for i, c in enumerate(job.cases) if i > index]
            break
    return messages.evaluation_reply(results)


def _prepare_judge(job: messages.EvaluateJob, ex: Execution, judge: judges.Judge | None) -> str | None:
    """Compile the checker or the command interactor, if asked, and seal an interactor's
    directory; the error every case then carries when that failed, else None."""
    if judge is None:
        return None
    failure = judges.compile_checker(ex, judge, job.memory_mb, who="checker" if job.checker else "interactor")
    if failure is not None or job.interactor is None or job.interactor.cmd is None:
        return failure
    judges.seal(judge)
    return None if ex.config.insecure else judges.unfit_program(judge, job.interactor.cmd)


def _unit(argv: tuple[str, ...] | None, path: str, limits: messages.UnitLimits, ex: Execution,
          environment: dict[str, str]) -> messages.ExecUnit | messages.ProgramUnit:
    """A case's unit: a Python program run as `__main__` by a warm unit (`program`), or
    `argv` exec'd."""
    if argv is None:
        return messages.ProgramUnit(path=path, limits=limits, cwd=ex.cwd, environment=environment)
    return messages.ExecUnit(argv=argv, limits=limits, cwd=ex.cwd, environment=environment)


def _interacted(index: int, case: messages.CaseSpec, program: Ran, interactor: Ran,
                job: messages.EvaluateJob) -> dict[str, Any]:
    """An interactive case's result (docs/api.md §4.4): the deadline passing is a
    timeout (a deadlock among others); else the interactor's verdict, and a pass, or any
    credit, needs the program to have ended well too (as with a checker, which never judges
    a program that did not)."""
    assert job.interactor is not None  # noqa: S101 - interactive jobs only
    shown = program.stdout[: job.stdout_limit].decode("utf-8", "replace")
    stderr = program.stderr.decode("utf-8", "replace")
    fields: dict[str, Any] = dict(got=shown, stdout=shown, stderr=stderr, **_usage(program))
    if program.outcome.timed_out:
        return _result(index, case, status="timeout", error=verdicts.TIMEOUT, score=0.0, **fields)
    checked = judges.verdict_of(interactor, job.interactor.timeout, who="interactor")
    if checked.score > 0:
        failure = _failure(program, job, stderr)
        if failure is not None:
            return _result(index, case, status=failure.status, error=failure.error, score=0.0, **fields)
    return _result(index, case, passed=checked.passed, status=checked.status, error=checked.error,
                   score=checked.score, **fields)


def _result(index: int, case: messages.CaseSpec, **fields: Any) -> dict[str, Any]:
    """A program case's result (by default, with no stderr, one that did not run)."""
    return messages.CaseResult(case=index, input=case.input, expected=case.output,
                               **{"stderr": "", **fields}).to_wire()


def _judged(index: int, case: messages.CaseSpec, ran: Ran, job: messages.EvaluateJob, spec: messages.ProgramSpec,
            ex: Execution, checker: judges.Judge | None) -> dict[str, Any]:
    """A case's result, decided here from how its process ended and its stdout: against
    the expected stdout of the request (which the program never saw), or by the
    request's checker, run once every process of the case is dead."""
    if checker is None or _failure(ran, job, "") is not None:
        return judge(index, case, ran, job, spec)
    ex.clean()
    checked = judges.check(ex, checker, job.memory_mb, case.input, ran.stdout,
                           case.output.encode("utf-8", "surrogatepass"), values=False)
    shown = ran.stdout[: job.stdout_limit].decode("utf-8", "replace")
    return _result(index, case, passed=checked.passed, status=checked.status, error=checked.error,
                   score=checked.score, got=shown, stdout=shown, stderr=ran.stderr.decode("utf-8", "replace"),
                   **_usage(ran))


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
        return _result(index, case, status=failure.status, error=failure.error, **fields)
    got = ran.stdout.decode("utf-8", "surrogateescape")
    passed = compare.same_output(got, case.output, spec.compare, spec.rel_tol, spec.abs_tol)
    return _result(index, case, passed=passed, status="passed" if passed else "failed", **fields)


def _usage(ran: Ran) -> dict[str, Any]:
    reaped = ran.ended.status is not None
    return dict(duration_ms=round(ran.outcome.duration_ms, 3),
                cpu_ms=round(ran.ended.cpu_seconds * 1000, 3) if reaped else None,
                peak_memory_kb=ran.ended.maxrss_kb if reaped else None)


def _failure(ran: Ran, job: messages.EvaluateJob, stderr: str, what: str = "the program") -> verdicts.Verdict | None:
    """The verdict of a program (`what`) that did not end well, None for one that did
    (the rules are `verdicts`'s table; the tail of its stderr is added here)."""
    status = ran.ended.status
    limit = verdicts.of_limits(ran.outcome.stopped, ran.outcome.timed_out, status, ran.ended.cpu_seconds, job.cpu,
                               output_over=what if ran.stdout_truncated else None)
    if limit is not None:
        return limit
    if status is not None and os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
        return None
    # The peak is the kernel's record for every process of the case (`Execution.ended`).
    warm = what == "the program" and job.program is not None and job.program.cmd is None  # a fork, no exec
    memory = (verdicts.Memory(ran.ended.maxrss_kb, job.memory_mb << 10, ran.ended.start_kb, limited_from_start=warm)
              if ran.ended.status is not None else None)
    end = verdicts.of_end(status, what, memory=memory, memory_error=verdicts.python_memory_error(stderr))
    return end if status is None else verdicts.Verdict(end.status, end.error + _tail(stderr))


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
    reason = "the compile command timed out" if failure.status == "timeout" else (
        failure.error.partition(": ")[2] or failure.error)
    return f"CompileError: {reason}{output}"
