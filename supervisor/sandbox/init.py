"""Runs in: the init.

The sandbox's init: pid 1 of its own namespaces, serving one job after another.

Forked by the zygote as pid 1 of a fresh pid namespace, it makes its mount, network, IPC
and UTS namespaces once, forks the template (`template`), reports ready, and then serves
jobs: it binds the job's session, has the template fork one unit per case (or the one
command) through the job's `execution.Execution`, has each case judged (`evaluation`,
`programs`), reports, and restores the sandbox to a fresh state (`hygiene`) before it
says it is ready again. It never runs user code and stays the only privileged process in
the sandbox. After `SandboxConfig.max_jobs` jobs, after a job that moved a counter of its
namespaces that cannot be set back (`hygiene.Counters`), or whenever the sandbox cannot
be brought back to a fresh state, it exits instead of saying it is ready, which tears the
whole namespace down, and the pool forks a new sandbox.
"""

from __future__ import annotations

import os
import resource
import signal
import socket
from typing import Any

from protocol.errors import ErrorCode
from supervisor.exitcodes import SandboxExit
from supervisor.sandbox import confine, evaluation, execution, frames, hygiene, messages, programs, template
from supervisor.sandbox.execution import Execution, SandboxConfig
from supervisor.sandbox.usage import DiskWatch, disk_usage

PREPARE_NICE = 10  # the priority sandboxes are prepared at, by the zygote
TEMPLATE_START_TIMEOUT = 30.0

__all__ = ["SandboxConfig", "serve"]


# --- the sandbox's life ------------------------------------------------------------------

def serve(sock: socket.socket, root_fd: int, config: SandboxConfig) -> None:
    """Confine, start the template, then serve jobs until `config.max_jobs` or until the
    supervisor closes the socket."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    os.close(root_fd)
    counters: hygiene.Counters | None = None
    try:
        if not config.insecure:
            confine.contain(confine.SANDBOX_STEPS, _target(config))
            hygiene.seal_ipc()
            counters = hygiene.Counters()
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
    for served in range(1, config.max_jobs + 1):
        data = frames.recv(sock)
        if data is None:
            os._exit(SandboxExit.DONE)
        job = messages.from_wire(messages.SandboxJob, data)
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
        if served == config.max_jobs:
            break  # retired: never say ready for a job this sandbox would not take
        if counters is not None and counters.moved():
            break  # retired too: the next job gets fresh namespaces (see `hygiene.Counters`)
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
            # Its stdio is the supervisor's log, which no fork of it that runs user code
            # (`import this` prints) may write into.
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
    uid = config.unit_uid
    if uid is None:
        confine.set_limits(_target(config).limits)
        return
    confine.contain(confine.PROCESS_STEPS, _target(config, template=True))


def _target(config: SandboxConfig, template: bool = False) -> confine.Target:
    ceiling = confine.Limits(
        cpu_seconds=resource.RLIM_INFINITY, memory_bytes=resource.RLIM_INFINITY,
        max_processes=config.max_processes, max_file_bytes=resource.RLIM_INFINITY,
        max_open_files=config.max_open_files)
    return confine.Target(uid=config.uid, limits=ceiling, cap_last=config.cap_last, tmp_size_mb=config.tmp_size_mb,
                          template_uid=config.template_uid if template else None)


def enter_session(job: messages.SandboxJob, config: SandboxConfig) -> str:
    """Make the job's session the units' working directory; return its path."""
    if config.insecure:
        # Without namespaces the supervisor always names a directory, a scratch one if need be.
        return os.path.join(config.session_root, job.session or "")
    confine.bind_session(job.session, job.scratch_mb)
    return confine.WORKDIR


def restore(config: SandboxConfig, base: template.Handle, scratch: hygiene.Scratch) -> template.Handle:
    """Bring the sandbox back to a fresh state after a job; a new template if it died.

    Raises:
        hygiene.Unclean: a process of the job could not be killed.
    """
    if not config.insecure:
        execution.clean_between_units(config, scratch, base)
        confine.leave_session()
    if not base.alive or base.pid in hygiene.reap_orphans():
        base.close()
        base = start_template(config)
    else:
        base.reset_scheduling()
    return base


def run_job(job: messages.SandboxJob, config: SandboxConfig, cwd: str, base: template.Handle,
            scratch: hygiene.Scratch) -> dict[str, Any]:
    """Run one job's units, watching the session's disk quota while user code runs
    (scratch directories are tmpfs, bounded by their size)."""
    quota = DiskWatch(cwd, job.fsize) if job.measure_usage else None
    ex = Execution(config=config, base=base, scratch=scratch, cwd=cwd, quota=quota)
    try:
        if isinstance(job, messages.RunJob):
            return run_command(job, ex)
        if job.program is not None:
            return programs.evaluate(job, ex)
        return evaluation.run_evaluation(job, ex)
    finally:
        ex.close()


# --- /run ------------------------------------------------------------------------------

def run_command(job: messages.RunJob, ex: Execution) -> dict[str, Any]:
    unit = messages.RunUnit(cmd=job.cmd, limits=execution.unit_limits(job.timeout + 1, job.memory_mb, job.fsize),
                            cwd=ex.cwd)
    ran = ex.run_stdio(unit, job.stdin.encode("utf-8", "surrogatepass"), (job.output_limit, job.output_limit),
                       job.timeout)
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


def _exit_code(status: int | None, timed_out: bool) -> int:
    if status is None or (timed_out and os.WIFSIGNALED(status)):
        return -signal.SIGKILL
    if os.WIFSIGNALED(status):
        return -os.WTERMSIG(status)
    return os.WEXITSTATUS(status)
