"""Runs in: the init.

The sandbox's init: pid 1 of its own namespaces, serving one job after another.

UnitHandle by the zygote as pid 1 of a fresh pid namespace, it makes its mount, network, IPC
and UTS namespaces once, forks the template (`template`), reports ready, and then serves
jobs: it binds the job's session, has the template fork one unit per case (or the one
command), watches each unit under its deadline, computes each case's verdict itself from
the request and the value the case returned, reports, and restores the sandbox to a
fresh state (`hygiene`) before it says it is ready again. It never runs user code and
stays the only privileged process in the sandbox. After `MAX_JOBS` jobs, or whenever the
sandbox cannot be brought back to a fresh state, it exits, which tears the whole
namespace down, and the pool forks a new sandbox.
"""

from __future__ import annotations

import math
import os
import resource
import signal
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from protocol import testplan
from protocol.errors import ErrorCode
from supervisor.exitcodes import SandboxExit
from supervisor.sandbox import confine, frames, hygiene, messages, programs, template, values, watch
from supervisor.sandbox.usage import DiskWatch, disk_usage

RESULT_LIMIT = 32 << 20
PREPARE_NICE = 10  # the priority sandboxes are prepared at, by the zygote
MAX_JOBS = 1000   # a sandbox is replaced after this many jobs, however clean it looks
TEMPLATE_START_TIMEOUT = 30.0
EXIT_REPORT_TIMEOUT = 2.0


@dataclass(frozen=True)
class SandboxConfig:
    """Fixed for the life of the zygote; sent by the supervisor when it starts it."""

    uid: int
    insecure: bool
    session_root: str
    tmp_size_mb: int
    max_processes: int
    max_open_files: int
    cap_last: int
    environment: dict[str, str]

    @property
    def whole_namespace(self) -> bool:
        return not self.insecure

    @property
    def unit_uid(self) -> int | None:
        """None: units keep the supervisor's uid (insecure mode without the privilege to
        switch uids)."""
        return None if self.insecure and not confine.can_switch_uid() else self.uid

    @property
    def template_uid(self) -> int:
        """The template's real and saved uid: the one after the sandbox uid."""
        return self.uid + 1

    def unit_identity(self) -> confine.UnitIdentity:
        return confine.UnitIdentity(uid=self.unit_uid, max_processes=self.max_processes,
                                    environment=self.environment)


# --- the sandbox's life ------------------------------------------------------------------

def serve(sock: socket.socket, root_fd: int, config: SandboxConfig) -> None:
    """Confine, start the template, then serve jobs until MAX_JOBS or the supervisor
    closes the socket."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    os.close(root_fd)
    try:
        if not config.insecure:
            confine.enter_namespaces(config.tmp_size_mb)
            hygiene.seal_ipc()
        base = start_template(config)
        scratch = hygiene.Scratch(config.tmp_size_mb)
        for pid in (0, base.pid):  # ready now: the jobs it serves run at normal priority
            try:
                os.setpriority(os.PRIO_PROCESS, pid, 0)
            except PermissionError:
                pass  # raising a priority needs CAP_SYS_NICE (insecure mode may lack it)
        base.check_fork()  # the spare, forked now: a sandbox whose units cannot be forked is not ready
        frames.send(sock, {"ready": True})
        base.keep_spare()
    except Exception as exc:  # noqa: BLE001 - reported to the supervisor, which logs it
        frames.send(sock, {"ready": False, "error": f"{type(exc).__name__}: {exc}"})
        os._exit(SandboxExit.NOT_READY)
    for _ in range(MAX_JOBS):
        data = frames.recv(sock)
        if data is None:
            os._exit(SandboxExit.DONE)
        job = messages.job_from_wire(data)
        cwd = None
        started = template.Handle.started
        try:
            cwd = enter_session(job, config)
            reply: dict[str, Any] = {"ok": True, "body": run_job(job, config, cwd, base, scratch)}
        except template.ForkFailed as exc:
            reply = not_forked(exc, ran=template.Handle.started != started)
        except Exception as exc:  # noqa: BLE001 - a failure of ours, not of user code
            reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        frames.send(sock, reply)
        if cwd is not None and job.measure_usage:
            # After the reply, so the client does not wait for the walk: the supervisor takes
            # the session's new disk usage as a second frame.
            fd = os.open(cwd, os.O_RDONLY | os.O_DIRECTORY)
            try:
                usage = disk_usage(fd)
            finally:
                os.close(fd)  # a sandbox lives for many jobs: nothing of one may stay open
            frames.send(sock, {"usage": usage})
        try:
            base = restore(config, base, scratch)
        except (hygiene.Unclean, OSError):
            os._exit(SandboxExit.DONE)  # never reused unclean; the pool forks a new sandbox
        frames.send(sock, {"ready": True})
        base.keep_spare()  # after the restore: nothing of the last job can reach it
    os._exit(SandboxExit.DONE)


def not_forked(exc: template.ForkFailed, ran: bool) -> dict[str, Any]:
    """The reply to a job whose unit the template could not fork. When it was the job's
    first unit nothing of the job ran, and the job is answered "not executed" (a retry is
    safe); else the units before it may have changed the session."""
    if ran:
        return {"ok": False, "code": ErrorCode.OUTCOME_UNKNOWN.value, "cause": messages.FORK_FAILED,
                "error": f"{exc} after part of the job had run"}
    return {"ok": False, "code": ErrorCode.UNAVAILABLE.value, "cause": messages.FORK_FAILED,
            "error": f"{exc}; the job was not started, retry shortly"}


def start_template(config: SandboxConfig) -> template.Handle:
    """Fork and confine the template; wait until it says it is ready."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    pid = os.fork()
    if pid == 0:
        try:
            ours.close()
            keep = theirs.fileno()
            os.closerange(3, keep)
            os.closerange(keep + 1, confine.MAX_FD)
            # Its stdio is the supervisor's log, which no process that imports what user
            # code names (a job template: `import this` prints) may write into.
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            os.close(null)
            _confine_template(config)
            template.serve(theirs, config.unit_identity())
        finally:
            os._exit(SandboxExit.BROKEN)
    theirs.close()
    handle = template.Handle(pid, ours)
    if not handle.wait_ready(TEMPLATE_START_TIMEOUT):
        raise OSError("the template did not start")
    return handle


def _confine_template(config: SandboxConfig) -> None:
    """The template's limits are the ceiling of what a unit may have, except the ones
    that add up over its long life (CPU seconds) or that each unit sets for itself."""
    ceiling = confine.Limits(
        cpu_seconds=resource.RLIM_INFINITY, memory_bytes=resource.RLIM_INFINITY,
        max_processes=config.max_processes, max_file_bytes=resource.RLIM_INFINITY,
        max_open_files=config.max_open_files)
    uid = config.unit_uid
    if uid is None:
        confine.set_limits(ceiling)
        return
    confine.drop_identity(uid, ceiling, config.cap_last, template_uid=config.template_uid)
    confine.seccomp.install()


def enter_session(job: messages.SandboxJob, config: SandboxConfig) -> str:
    """Make the job's session the units' working directory; return its path."""
    if config.insecure:
        # Without namespaces the supervisor always names a directory, a scratch one if need be.
        return os.path.join(config.session_root, job.session or "")
    scratch_mb = job.scratch_mb if isinstance(job, messages.EvaluateJob) else 64
    confine.bind_session(job.session, scratch_mb)
    return confine.WORKDIR


def restore(config: SandboxConfig, base: template.Handle, scratch: hygiene.Scratch) -> template.Handle:
    """Bring the sandbox back to a fresh state after a job; a new template if it died.

    Raises:
        hygiene.Unclean: a process of the job could not be killed.
    """
    if not config.insecure:
        clean_between_units(config, scratch, base)
        confine.leave_session()
    if not base.alive or base.pid in hygiene.reap_orphans():
        base.close()
        base = start_template(config)
    else:
        base.reset_scheduling()
    return base


def clean_between_units(config: SandboxConfig, scratch: hygiene.Scratch, *templates: template.Handle,
                        killed: bool = False) -> None:
    """Restore a fresh state between two units (nothing to do without namespaces: there
    the units' process groups are all that can be cleaned, and `stopper` kills them)."""
    if config.insecure:
        return
    protect = frozenset().union(*(t.protected() for t in templates if t.alive))
    reaped = hygiene.reset(scratch, protect, killed)
    for handle in templates:
        if handle.pid in reaped:
            handle.close()


def stopper(config: SandboxConfig, pid: int, *templates: template.Handle) -> Callable[[int | None], None]:
    """What kills a unit and everything it started, sparing the templates (given the
    unit's pidfd, if there is one, to wait on)."""
    protect = frozenset().union(*(t.protected() for t in templates))

    def kill_others(pidfd: int | None) -> None:
        hygiene.kill_others(protect, exiting=pidfd)

    if config.whole_namespace:
        return kill_others

    def kill_group(pidfd: int | None) -> None:
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    return kill_group


def run_job(job: messages.SandboxJob, config: SandboxConfig, cwd: str, base: template.Handle,
            scratch: hygiene.Scratch) -> dict[str, Any]:
    if isinstance(job, messages.RunJob):
        return run_command(job, config, cwd, base)
    return run_evaluation(job, config, cwd, base, scratch)


def _limits(cpu: float, memory_mb: int, fsize: int) -> messages.UnitLimits:
    return messages.UnitLimits(cpu_seconds=max(1, math.ceil(cpu)), memory_bytes=memory_mb << 20,
                           max_file_bytes=max(fsize, 0))


# --- /run ------------------------------------------------------------------------------

def run_command(job: messages.RunJob, config: SandboxConfig, cwd: str, base: template.Handle) -> dict[str, Any]:
    unit = messages.RunUnit(cmd=job.cmd, limits=_limits(job.timeout + 1, job.memory_mb, job.fsize), cwd=cwd)
    quota = _disk_watch(job, cwd)
    try:
        ran = _run_stdio(config, base, unit, job.stdin.encode("utf-8", "surrogatepass"),
                         (job.output_limit, job.output_limit), job.timeout, quota)
    finally:
        if quota is not None:
            quota.close()
    outcome, ended = ran.outcome, ran.ended
    stderr = ran.stderr.decode("utf-8", "replace")
    if outcome.stopped:
        stderr += ("" if not stderr or stderr.endswith("\n") else "\n") + outcome.stopped + "\n"
    return {
        "stdout": ran.stdout.decode("utf-8", "replace"),
        "stderr": stderr,
        "exit_code": _exit_code(ended.status, outcome.timed_out),
        "timed_out": outcome.timed_out,
        "truncated": ran.stdout_truncated or ran.stderr_truncated,
        "duration_ms": round(outcome.duration_ms, 3),
        "cpu_ms": round(ended.cpu_seconds * 1000, 3),
        "peak_memory_kb": ended.maxrss_kb,
    }


def _run_stdio(config: SandboxConfig, base: template.Handle, unit: messages.RunUnit | messages.ExecUnit, stdin: bytes,
               limits: tuple[int, int], timeout: float, quota: DiskWatch | None) -> programs.Ran:
    """Fork a unit that uses stdio (a command or a program), feed its stdin, collect its
    stdout and stderr (each up to its limit) until it ends or `timeout` passes, and learn
    how it ended. Everything it started is dead when this returns."""
    started = time.monotonic()
    forked = base.fork(unit)
    pid = base.pid_of(forked.seq)
    captures = [watch.Capture(forked.stdout, limits[0]), watch.Capture(forked.stderr, limits[1])]
    outcome = watch.supervise(pid, captures, started + timeout, stopper(config, pid, base),
                              stdin=(forked.stdin, stdin), watch=quota, started=started)
    ended = base.wait_exit(forked.seq, EXIT_REPORT_TIMEOUT)
    return programs.Ran(stdout=bytes(captures[0].data), stderr=bytes(captures[1].data),
                        stdout_truncated=captures[0].truncated, stderr_truncated=captures[1].truncated,
                        outcome=outcome, ended=ended)


def _disk_watch(job: messages.SandboxJob, cwd: str) -> DiskWatch | None:
    """Watch the session's disk usage while user code runs (scratch directories are tmpfs,
    bounded by their size)."""
    return DiskWatch(cwd, job.fsize) if job.measure_usage else None


def _exit_code(status: int | None, timed_out: bool) -> int:
    if status is None or (timed_out and os.WIFSIGNALED(status)):
        return -signal.SIGKILL
    if os.WIFSIGNALED(status):
        return -os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


# --- /evaluate_code --------------------------------------------------------------------

@dataclass
class _Expected:
    """The expected output of one case as the init holds it."""

    literal: bool
    value: Any = None
    text: str = ""


Work = messages.CaseSpec | testplan.PlannedTest  # a function-call case, or a test of the tests


def run_evaluation(job: messages.EvaluateJob, config: SandboxConfig, cwd: str, base: template.Handle,
                   scratch: hygiene.Scratch) -> dict[str, Any]:
    """Run the cases one after another, then the tests, each a fork of the template, with
    the sandbox restored to a fresh state between two."""
    if job.program is not None:
        return run_programs(job, config, cwd, base, scratch)
    planned: list[Work] = [*job.cases, *job.test_plan]
    work: list[Work | None] = list(planned) or [None]  # with no case, still compile once
    forker = _job_template(job, config, base)
    results: list[dict[str, Any]] = []
    compile_error: str | None = None
    budget = job.result_budget
    quota = _disk_watch(job, cwd)
    try:
        for index, item in enumerate(work):
            if index:
                clean_between_units(config, scratch, base, *([forker] if forker is not base else []), killed=True)
                if not forker.alive:
                    forker = base
            result, used = run_case(job, config, cwd, forker, base, item, budget, quota)
            budget -= used
            if result.get("compile_error") is not None:
                compile_error = result["compile_error"]
                break
            if item is not None:
                results.append(asdict(messages.CaseResult(case=index, input=_shown_input(item), **result)))
                if job.stop_on_first_failure and not result["passed"]:
                    results += [_skipped(i, c) for i, c in enumerate(planned) if i > index]
                    break
    finally:
        if forker is not base:
            forker.close()
        if quota is not None:
            quota.close()
    if compile_error is not None:
        results = [_compile_failure(i, c, compile_error) for i, c in enumerate(planned)]
    passed = compile_error is None and all(r["passed"] for r in results)
    return {"passed": passed, "case_results": results, "error": compile_error}


def _shown_input(item: Work) -> str:
    """A case's `input` in its result: the call's arguments, or the test's name."""
    return item.input if isinstance(item, messages.CaseSpec) else item.name


def run_programs(job: messages.EvaluateJob, config: SandboxConfig, cwd: str, base: template.Handle,
                 scratch: hygiene.Scratch) -> dict[str, Any]:
    """Program (stdin/stdout) cases: the program saved for the job, each case a unit that
    runs it (`programs`), the sandbox restored between two units."""
    spec = job.program or messages.ProgramSpec()
    path = programs.install(job.code, spec.main_file, config.insecure)
    quota = _disk_watch(job, cwd)

    def run(unit: messages.ExecUnit, stdin: bytes, stdout_limit: int, stderr_limit: int) -> programs.Ran:
        return _run_stdio(config, base, unit, stdin, (stdout_limit, stderr_limit), job.timeout, quota)

    def clean() -> None:
        clean_between_units(config, scratch, base, killed=True)

    try:
        return programs.evaluate(job, path, _limits(job.cpu, job.memory_mb, job.fsize), cwd, run, clean)
    finally:
        programs.remove(path, config.insecure)
        if quota is not None:
            quota.close()


def _job_template(job: messages.EvaluateJob, config: SandboxConfig, base: template.Handle) -> template.Handle:
    """A template that has imported what the code imports, when there is anything to
    import and more than one case to share it; else the sandbox's own template."""
    wanted = template.imports_of(job.code) + (template.imports_of(job.tests) if job.tests else [])
    modules = [m for m in dict.fromkeys(wanted) if m not in sys.modules]
    if not modules or len(job.cases) + len(job.test_plan) < 2:
        return base
    try:
        forked = base.fork_template(modules)
    except OSError:
        return base
    if forked.wait_ready(job.timeout):
        return forked
    forked.close()
    stopper(config, forked.pid, base)(None)
    return base


def _skipped(index: int, item: Work) -> dict[str, Any]:
    """A case not run because an earlier one failed (`stop_on_first_failure`)."""
    shown = None
    if isinstance(item, messages.CaseSpec):
        expected = expected_of(item)
        shown = values.to_wire(expected.value) if expected.literal else None
    return asdict(messages.CaseResult(case=index, input=_shown_input(item), passed=False, got=None, expected=shown,
                                  error=None, status="skipped", stdout="", duration_ms=0.0))


def _compile_failure(index: int, item: Work, error: str) -> dict[str, Any]:
    return asdict(messages.CaseResult(case=index, input=_shown_input(item), passed=False, got=None, expected=None,
                                  error=error, status="error", stdout="", duration_ms=0.0))


def expected_of(case: messages.CaseSpec) -> _Expected:
    try:
        return _Expected(literal=True, value=values.parse_literal(case.output), text=case.output)
    except values.NotLiteral:
        return _Expected(literal=False, text=case.output)


def run_case(job: messages.EvaluateJob, config: SandboxConfig, cwd: str, forker: template.Handle,
             base: template.Handle, item: Work | None, budget: int,
             quota: DiskWatch | None) -> tuple[dict[str, Any], int]:
    """Run one case (or one test of the tests) and decide its verdict; return the case
    result's fields and the bytes of report it used.

    The killed processes of a case are waited for before the next case starts: nothing
    of one case can run, or be seen, during the next.
    """
    case = item if isinstance(item, messages.CaseSpec) else None
    test = item if isinstance(item, testplan.PlannedTest) else None
    expected = expected_of(case) if case is not None else _Expected(literal=True)
    unit = messages.CaseUnit(code=job.code, entry_point=job.entry_point,
                         case=messages.CaseSpec(case.input, "" if expected.literal else case.output) if case else None,
                         stdout_limit=job.stdout_limit, limits=_limits(job.cpu, job.memory_mb, job.fsize),
                         cwd=cwd, expected_withheld=expected.literal, float_tolerance=job.float_tolerance,
                         tests_follow=test is not None)
    started = time.monotonic()
    forked = forker.fork(unit)
    if test is not None:
        template.write_message(forked.stdin, asdict(messages.TestMessage(tests=job.tests, test=test)))
    seq = forked.seq
    pid = forker.pid_of(seq)
    capture = watch.Capture(forked.report, min(RESULT_LIMIT, max(budget, 0)))
    conversation = _Conversation(capture)
    templates = (base,) if forker is base else (base, forker)
    outcome = watch.supervise(pid, [capture], started + job.timeout, stopper(config, pid, *templates),
                              until=conversation.done, watch=quota, started=started)
    if conversation.report is None and not conversation.garbled:
        conversation.done()  # the process exited before its report was read: read it now
    ended = forker.wait_exit(seq, EXIT_REPORT_TIMEOUT)
    result = _verdict(outcome, ended, conversation, expected, job, capture)
    result["duration_ms"] = round(outcome.duration_ms, 3)
    result["cpu_ms"] = round(ended.cpu_seconds * 1000, 3) if ended.status is not None else None
    result["peak_memory_kb"] = ended.maxrss_kb if ended.status is not None else None
    return result, 0 if capture.truncated else len(capture.data)  # a refused result is dropped


class _Conversation:
    """The case's report frame as it arrives."""

    def __init__(self, capture: watch.Capture) -> None:
        self.capture = capture
        self.report: dict[str, Any] | None = None
        self.garbled = False

    def done(self) -> bool:
        try:
            first = frames.first_frame(self.capture.data)
            if first is None:
                return False
            if not isinstance(first[0], dict):
                raise ValueError("not a report")
            self.report = first[0]
            return True
        except Exception:  # noqa: BLE001 - anything the unit wrote: a garbled report
            self.garbled = True
            return True


_BASE = {"passed": False, "got": None, "expected": None, "stdout": "", "error": None}


def _verdict(outcome: watch.Outcome, ended: messages.Exit, conversation: _Conversation, expected: _Expected,
             job: messages.EvaluateJob, capture: watch.Capture) -> dict[str, Any]:
    """A case's result, decided here: from how its process ended, the value it says it
    returned, and the expected value parsed from the request (never from the case)."""
    shown = values.to_wire(expected.value) if expected.literal else None
    base = {**_BASE, "expected": shown}
    if outcome.stopped:
        return {**base, "status": "error", "error": outcome.stopped}
    if outcome.timed_out or _cpu_exhausted(ended, job):
        return {**base, "status": "timeout", "error": "Timeout"}
    report = conversation.report
    if report is not None and not conversation.garbled:
        try:
            return _judge(report, expected, base, job.float_tolerance)
        except (ValueError, TypeError, KeyError):
            pass
        return {**base, "status": "error", "error": "InvalidReport: the case process sent an unreadable report"}
    if conversation.garbled:
        return {**base, "status": "error", "error": "InvalidReport: the case process sent an unreadable report"}
    status = ended.status
    if capture.truncated:
        return {**base, "status": "error",
                "error": "ResultTooLarge: the case's result exceeds the limit of the case or of the request"}
    if status is not None and os.WIFSIGNALED(status):
        name = signal.Signals(os.WTERMSIG(status)).name
        return {**base, "status": "crashed", "error": f"Crashed: killed by signal {name}"}
    code = os.WEXITSTATUS(status) if status is not None else -1
    return {**base, "status": "error",
            "error": f"ProcessExit: the case process exited with status {code} before returning"}


def _judge(report: dict[str, Any], expected: _Expected, base: dict[str, Any],
           tolerance: float | None) -> dict[str, Any]:
    outcome = report["outcome"]
    stdout = str(report.get("stdout") or "")
    if outcome == "compile_error":
        return {**base, "compile_error": str(report["error"]), "status": "error"}
    if outcome == "compiled":
        return {**base, "status": "passed", "passed": True}
    if outcome == "test":
        return _judge_test(report, base, stdout)
    if not expected.literal:
        base = {**base, "expected": report.get("expected")}
    if outcome in ("error", "memory"):
        return {**base, "status": outcome, "error": str(report.get("error")), "stdout": stdout}
    if outcome != "returned":
        raise ValueError("unknown outcome")
    got = values.decode(report["got"])
    opaque = values.has_opaque(report["got"])
    if expected.literal:
        # Decided here, from values alone: a value the init cannot rebuild (an object of
        # the solution's own class) is never equal to a literal, whatever it claims.
        passed = not opaque and values.same(got, expected.value, tolerance)
    else:
        passed = report.get("eq") is True  # an expression: only the unit can compare
    return {**base, "passed": passed, "status": "passed" if passed else "failed",
            "got": values.display_repr(got) if opaque else values.to_wire(got), "stdout": stdout}


_TEST_STATUSES = frozenset({"passed", "failed", "error", "memory", "crashed", "timeout", "skipped"})


def _judge_test(report: dict[str, Any], base: dict[str, Any], stdout: str) -> dict[str, Any]:
    """A test's result is what its tests' process says (the solution cannot reach it: see
    `judge`); the values it compared are shown as a function case's would be. A test the
    tests skip themselves (unittest's skip) does not fail the submission."""
    status = report["status"]
    if status not in _TEST_STATUSES:
        raise ValueError("unknown status")
    shown = {}
    for key in ("got", "expected"):
        value = values.decode(report.get(key))
        shown[key] = values.display_repr(value) if values.has_opaque(report.get(key)) else values.to_wire(value)
    error = report.get("error")
    return {**base, **shown, "status": status, "passed": status in ("passed", "skipped"),
            "error": None if error is None else str(error), "stdout": stdout}


def _cpu_exhausted(ended: messages.Exit, job: messages.EvaluateJob) -> bool:
    status = ended.status
    if status is None:
        return False
    if ended.cpu_seconds > float(job.cpu):
        return True  # RLIMIT_CPU counts whole seconds: a fractional limit is held here
    if not os.WIFSIGNALED(status):
        return False
    signum = os.WTERMSIG(status)
    if signum == signal.SIGXCPU:
        return True
    return signum == signal.SIGKILL and ended.cpu_seconds >= float(job.cpu)
