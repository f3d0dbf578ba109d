"""What the supervisor does for each wire operation.

One function per operation, named for it, each taking the validated request model and
answering through `reply(body, error)`. Every operation on a session goes through the
session's lane (`supervisor.lanes`), which orders it with the session's other operations
and jobs and runs the heavy ones (list, fork, deletes, a write that must measure the
usage) on a thread, off the poll loop. `run` and `evaluate` hand a job to the pool and
answer when its sandbox reports.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from protocol import limits, models
from protocol.budget import batch_window, job_budget, queue_wait
from protocol.errors import ErrorCode, ServiceError
from protocol.settings import Config
from supervisor import batch
from supervisor.lanes import Kind, Lanes
from supervisor.pool import Pool
from supervisor.sandbox import messages
from supervisor.sessions import SessionStore

log = logging.getLogger("supervisor.operations")
MIN_QUEUE_WAIT = 1.0  # a job that reaches the pool late still gets this long to find a sandbox

Reply = Callable[[dict[str, Any] | None, ServiceError | None], None]


@dataclass
class Context:
    config: Config
    store: SessionStore
    pool: Pool
    isolation: str
    limits_mode: str
    lanes: Lanes


def _on_lane(ctx: Context, session: str, kind: Kind, work: Callable[[], dict[str, Any]], reply: Reply,
             background: bool | None = None) -> None:
    """Run a store operation on the session's lane and answer with what `work` returns."""
    ctx.lanes.submit(session, kind, work, lambda body: reply(body, None), lambda exc: reply(None, exc),
                     background)


def _job_reply(ctx: Context, session: str | None, reply: Reply, shape: Callable[[dict[str, Any]], dict[str, Any]],
               cleanup: Callable[[], None] | None = None, lane: str | None = None) -> Callable[[dict[str, Any]], None]:
    """Turn a sandbox's report into the operation's reply; the first report (the result,
    or the failure) also ends the job on its session's lane."""
    ended = False

    def done(message: dict[str, Any]) -> None:
        nonlocal ended
        if not ended:
            ended = True
            if lane is not None:
                ctx.lanes.job_finished(lane)
            if cleanup is not None:
                cleanup()
        if "usage" in message:
            if session:
                ctx.store.record_usage(session, int(message["usage"]))
            return
        if not message.get("ok"):
            reply(None, _job_failure(message))
            return
        _count_kills(ctx.pool.counters, message["body"])
        reply(shape(message["body"]), None)
    return done


def _job_failure(message: dict[str, Any]) -> ServiceError:
    """The error for a job that produced no result.

    The pool says why (`code`): UNAVAILABLE when the job never started (its start-by time
    passed in the queue), OUTCOME_UNKNOWN when it started and its sandbox was lost. A
    sandbox whose template could not fork the job's unit says which of the two it was
    (cause `fork_failed`: UNAVAILABLE when it was the job's first unit). Any other report
    of failure from the sandbox carries no code: that is a bug of ours (INTERNAL), never
    a reason to invite a retry of a job that may have run.
    """
    try:
        code = ErrorCode(message.get("code", ErrorCode.INTERNAL.value))
    except ValueError:
        code = ErrorCode.INTERNAL
    why = str(message.get("error"))
    cause = message.get("cause") if isinstance(message.get("cause"), str) else None
    if code is ErrorCode.UNAVAILABLE:
        return ServiceError(code, why, cause=cause)
    log.error("sandbox job failed (%s): %s", code.value, why)
    if code is ErrorCode.OUTCOME_UNKNOWN:
        return ServiceError(code, f"{why}; it may have run in part or in full, so it was not retried", cause=cause)
    return ServiceError(ErrorCode.INTERNAL, "internal error", cause=cause or "sandbox_error")


def _count_kills(counters: Any, body: dict[str, Any]) -> None:
    """Count what the sandbox killed at its deadline (exported by /metrics as kills by cause)."""
    timeouts = sum(1 for case in body.get("case_results", ()) if case.get("status") == "timeout")
    counters["kills_timeout"] += timeouts + (1 if body.get("timed_out") else 0)


def _submit_job(ctx: Context, session: str, payload: Callable[[], messages.SandboxJob], budget: float, reply: Reply,
                measured: str | None, shape: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    """Queue a job on its session's lane: `payload` (the store part: the session's
    allowance) runs when the lane allows, then the job goes to the pool."""
    arrived = time.monotonic()

    def start(body: messages.SandboxJob) -> None:
        # The time spent waiting on the lane (behind a fork of the session, say) counts
        # against the job's queue wait, so that it starts within what the web tier waits.
        left = queue_wait(ctx.config) - (time.monotonic() - arrived)
        ctx.pool.submit(body, budget, _job_reply(ctx, measured, reply, shape, lane=session),
                        max(left, MIN_QUEUE_WAIT))

    ctx.lanes.submit(session, Kind.JOB, payload, start, lambda exc: reply(None, exc),
                     background=ctx.store.needs_measure(session))


def run(ctx: Context, req: models.RunRequest, reply: Reply) -> None:
    cfg = ctx.config
    timeout = limits.resolve("run", "timeout", req.timeout, cfg)

    def payload() -> messages.SandboxJob:
        if not ctx.store.exists(req.id):
            raise ServiceError(ErrorCode.BAD_REQUEST, "Session does not exist")
        ctx.store.touch(req.id)
        return messages.RunJob(
            session=req.id, cmd=req.cmd, stdin=req.stdin or "", timeout=timeout, memory_mb=cfg.run_memory_mb,
            output_limit=cfg.max_output_bytes, fsize=ctx.store.remaining(req.id))
    _submit_job(ctx, req.id, payload, job_budget("run", req, cfg), reply, req.id, lambda body: {**body, "id": req.id})


def evaluate(ctx: Context, req: models.EvaluateRequest, reply: Reply) -> None:
    cfg = ctx.config
    timeout = limits.resolve("evaluate", "timeout", req.timeout, cfg)
    cpu = limits.resolve("evaluate", "cpu_limit", req.cpu_limit, cfg)
    memory_mb = limits.resolve("evaluate", "memory_limit_mb", req.memory_limit_mb, cfg)
    budget = job_budget("evaluate", req, cfg)

    def payload(session: str | None, fsize: int) -> messages.SandboxJob:
        return messages.EvaluateJob(
            session=session, measure_usage=session == req.id, code=req.code, entry_point=req.entry_point or "",
            cases=_cases(req), program=_program(req),
            timeout=timeout, cpu=cpu, memory_mb=memory_mb,
            stdout_limit=cfg.case_stdout_bytes, scratch_mb=cfg.disk_quota_mb, fsize=fsize,
            float_tolerance=req.float_tolerance, stop_on_first_failure=req.stop_on_first_failure,
            tests=req.tests or "", test_plan=req.test_plan, isolation=req.isolation or models.DEFAULT_ISOLATION,
            checker=_judge(req.checker, cfg), interactor=_judge(req.interactor, cfg))

    def in_session() -> messages.SandboxJob:
        if ctx.store.exists(req.id):
            return payload(req.id, ctx.store.remaining(req.id))
        if ctx.isolation == "insecure":  # deleted while this waited: no scratch directory made for it
            raise ServiceError(ErrorCode.NOT_FOUND, f"Session {req.id!r} was deleted; retry")
        return payload(None, cfg.disk_quota_mb << 20)

    if ctx.store.exists(req.id):
        _submit_job(ctx, req.id, in_session, budget, reply, req.id, lambda body: body)
        return
    if req.require_session:  # the web tier runs scratch evaluations on the least busy supervisor
        raise ServiceError(ErrorCode.NOT_FOUND, f"Session {req.id!r} does not exist", cause="no_session")
    # No session: an empty scratch directory (a tmpfs in the sandbox; a directory of the
    # store in insecure mode), not ordered with anything.
    cleanup = None
    session = None
    if ctx.isolation == "insecure":
        session = ctx.store.create_scratch()
        scratch = session
        cleanup = lambda: ctx.store.remove_scratch(scratch)  # noqa: E731
    ctx.pool.submit(payload(session, cfg.disk_quota_mb << 20), budget,
                    _job_reply(ctx, None, reply, lambda body: body, cleanup), queue_wait(cfg))


def _cases(req: models.EvaluateRequest) -> tuple[messages.CaseSpec, ...]:
    """The cases as the sandbox takes them: a program case's stdin and expected stdout in
    the places of a function case's input and output."""
    return tuple(messages.CaseSpec(input=case.stdin or "", output=case.stdout or "") if case.is_program
                 else messages.CaseSpec(input=case.input or "", output=case.output or "") for case in req.io_cases)


def _program(req: models.EvaluateRequest) -> messages.ProgramSpec | None:
    """How program cases run and compare, with the defaults of docs/api.md §4; None for
    function-call cases."""
    if not req.is_program:
        return None
    return messages.ProgramSpec(
        cmd=req.cmd, compile=req.compile, main_file=req.main_file or models.DEFAULT_MAIN_FILE,
        compare=req.compare or models.DEFAULT_COMPARE,
        rel_tol=models.DEFAULT_REL_TOL if req.rel_tol is None else req.rel_tol,
        abs_tol=models.DEFAULT_ABS_TOL if req.abs_tol is None else req.abs_tol)


def _judge(judge: models.Judge | None, cfg: Config) -> messages.JudgeSpec | None:
    """A checker or an interactor as the sandbox takes it, its timeout filled in."""
    if judge is None:
        return None
    return messages.JudgeSpec(code=judge.code, cmd=judge.cmd, compile=judge.compile, files=dict(judge.files or {}),
                              timeout=limits.resolve("judge", "timeout", judge.timeout, cfg))


def evaluate_batch(ctx: Context, req: models.EvaluateBatchRequest, reply: Reply) -> None:
    """Each submission is an `evaluate` of its own, so it is ordered, queued and limited
    exactly like one sent alone; `supervisor.batch` runs them side by side and answers in order."""
    batch.fan_out(req.submissions, lambda submission, answer: evaluate(ctx, submission, answer),
                  batch_window(ctx.config), reply)


def read_file(ctx: Context, req: models.ReadFileRequest, reply: Reply) -> None:
    _on_lane(ctx, req.id, Kind.QUICK, lambda: {
        "content": ctx.store.read(req.id, req.rel_path, req.encoding), "id": req.id, "rel_path": req.rel_path,
    }, reply)


def write_file(ctx: Context, req: models.WriteFileRequest, reply: Reply) -> None:
    def work() -> dict[str, Any]:
        ctx.store.write(req.id, req.rel_path, req.content, req.encoding)
        return {"success": True, "id": req.id, "rel_path": req.rel_path}
    _on_lane(ctx, req.id, Kind.QUICK, work, reply, background=ctx.store.needs_measure(req.id))


def delete_file(ctx: Context, req: models.DeleteFileRequest, reply: Reply) -> None:
    def work() -> dict[str, Any]:
        ctx.store.delete_file(req.id, req.rel_path)
        return {"success": True, "id": req.id, "rel_path": req.rel_path}
    _on_lane(ctx, req.id, Kind.HEAVY, work, reply)


def rename_file(ctx: Context, req: models.RenameFileRequest, reply: Reply) -> None:
    def work() -> dict[str, Any]:
        ctx.store.rename(req.id, req.old_path, req.new_path)
        return {"success": True, "id": req.id, "old_path": req.old_path, "new_path": req.new_path}
    _on_lane(ctx, req.id, Kind.QUICK, work, reply)


def fork_session(ctx: Context, req: models.ForkSessionRequest, reply: Reply) -> None:
    def work() -> dict[str, Any]:
        new_id, report = ctx.store.fork(req.id, req.new_id)
        return {"new_id": new_id, "skipped": report.skipped, "skipped_count": report.skipped_count}
    _on_lane(ctx, req.id, Kind.EXCLUSIVE, work, reply)


def create_session(ctx: Context, req: models.CreateSessionRequest, reply: Reply) -> None:
    if req.id is None:
        reply({"id": ctx.store.create()}, None)
        return
    _on_lane(ctx, req.id, Kind.QUICK, lambda: {"id": ctx.store.create(req.id)}, reply)


def delete_session(ctx: Context, req: models.DeleteSessionRequest, reply: Reply) -> None:
    def work() -> dict[str, Any]:
        ctx.store.delete(req.id)
        return {"success": True, "id": req.id}
    _on_lane(ctx, req.id, Kind.EXCLUSIVE, work, reply)


def list_files(ctx: Context, req: models.ListFilesRequest, reply: Reply) -> None:
    def work() -> dict[str, Any]:
        listing = ctx.store.list(req.id)
        return {"id": req.id, "files": listing.entries, "truncated": listing.truncated}
    _on_lane(ctx, req.id, Kind.HEAVY, work, reply)


def status(ctx: Context, req: models.StatusRequest, reply: Reply) -> None:
    pool = ctx.pool
    reply({
        "ready": pool.ready,
        "detail": pool.not_ready_because(),
        "isolation": ctx.isolation,
        "limits_mode": ctx.limits_mode,
        "idle": pool.idle,
        "busy": pool.busy,
        "queued": len(pool.queue),
        "counters": dict(pool.counters),
    }, None)


HANDLERS: dict[str, Callable[[Context, Any, Reply], None]] = {
    "evaluate": evaluate, "run": run, "read_file": read_file, "write_file": write_file,
    "delete_file": delete_file, "rename_file": rename_file, "fork_session": fork_session,
    "create_session": create_session, "delete_session": delete_session, "list_files": list_files,
    "status": status, "evaluate_batch": evaluate_batch,
}
assert set(HANDLERS) == set(models.OPERATIONS), "every wire operation needs a handler"
