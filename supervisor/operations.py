"""What the supervisor does for each wire operation.

One function per operation, named for it, each taking the validated request model and
answering through `reply(body)` or by raising ServiceError. File operations answer at
once; `run` and `evaluate` hand a job to the pool and answer when its sandbox reports.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any, Callable

from protocol import models
from protocol.budget import job_budget, queue_wait
from protocol.errors import ErrorCode, ServiceError
from protocol.settings import Config
from supervisor.pool import Pool
from supervisor.sessions import SessionStore

log = logging.getLogger("supervisor.operations")

Reply = Callable[[dict[str, Any] | None, ServiceError | None], None]


@dataclass
class Context:
    config: Config
    store: SessionStore
    pool: Pool
    isolation: str
    limits_mode: str


def _job_reply(ctx: Context, session: str | None, reply: Reply, shape: Callable[[dict[str, Any]], dict[str, Any]],
               cleanup: Callable[[], None] | None = None) -> Callable[[dict[str, Any]], None]:
    """Turn a sandbox's report into the operation's reply."""
    def done(message: dict[str, Any]) -> None:
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
    report of failure from the sandbox itself carries no code: that is a bug of ours
    (INTERNAL), never a reason to invite a retry of a job that may have run.
    """
    try:
        code = ErrorCode(message.get("code", ErrorCode.INTERNAL.value))
    except ValueError:
        code = ErrorCode.INTERNAL
    why = str(message.get("error"))
    if code is ErrorCode.UNAVAILABLE:
        return ServiceError(code, why)
    log.error("sandbox job failed (%s): %s", code.value, why)
    if code is ErrorCode.OUTCOME_UNKNOWN:
        return ServiceError(code, f"{why}; it may have run in part or in full, so it was not retried")
    return ServiceError(ErrorCode.INTERNAL, "internal error")


def _count_kills(counters: Any, body: dict[str, Any]) -> None:
    """Count what the sandbox killed at its deadline (exported by /metrics as kills by cause)."""
    timeouts = sum(1 for case in body.get("case_results", ()) if case.get("status") == "timeout")
    counters["kills_timeout"] += timeouts + (1 if body.get("timed_out") else 0)


def run(ctx: Context, req: models.RunRequest, reply: Reply) -> None:
    if not ctx.store.exists(req.id):
        raise ServiceError(ErrorCode.BAD_REQUEST, "Session does not exist")
    cfg = ctx.config
    timeout = req.timeout or cfg.run_timeout
    ctx.store.touch(req.id)
    payload = {
        "kind": "run", "session": req.id, "measure_usage": True, "cmd": req.cmd, "stdin": req.stdin,
        "timeout": timeout, "memory_mb": cfg.run_memory_mb, "output_limit": cfg.max_output_bytes,
        "fsize": ctx.store.remaining(req.id),
    }
    ctx.pool.submit(payload, job_budget("run", req, cfg), _job_reply(ctx, req.id, reply, lambda body: {**body, "id": req.id}),
                    queue_wait(cfg))


def evaluate(ctx: Context, req: models.EvaluateRequest, reply: Reply) -> None:
    cfg = ctx.config
    timeout = req.timeout or cfg.eval_timeout
    cpu = req.cpu_limit or cfg.eval_cpu_limit
    session: str | None = req.id if ctx.store.exists(req.id) else None
    cleanup = None
    if session is None and ctx.isolation == "insecure":
        session = ctx.store.create_scratch()
        scratch = session
        cleanup = lambda: ctx.store.remove_scratch(scratch)  # noqa: E731
    payload = {
        "kind": "evaluate", "session": session, "measure_usage": session == req.id,
        "code": req.code, "entry_point": req.entry_point,
        "cases": [case.model_dump() for case in req.io_cases],
        "timeout": timeout, "cpu": cpu, "memory_mb": req.memory_limit_mb or cfg.eval_memory_mb,
        "stdout_limit": cfg.case_stdout_bytes, "scratch_mb": cfg.disk_quota_mb,
        "fsize": ctx.store.remaining(req.id) if session == req.id else cfg.disk_quota_mb << 20,
    }
    ctx.pool.submit(payload, job_budget("evaluate", req, cfg), _job_reply(ctx, session if session == req.id else None, reply,
                                                lambda body: body, cleanup), queue_wait(cfg))


def read_file(ctx: Context, req: models.ReadFileRequest, reply: Reply) -> None:
    content = ctx.store.read(req.id, req.rel_path, req.encoding)
    reply({"content": content, "id": req.id, "rel_path": req.rel_path}, None)


def write_file(ctx: Context, req: models.WriteFileRequest, reply: Reply) -> None:
    ctx.store.write(req.id, req.rel_path, req.content, req.encoding)
    reply({"success": True, "id": req.id, "rel_path": req.rel_path}, None)


def delete_file(ctx: Context, req: models.DeleteFileRequest, reply: Reply) -> None:
    ctx.store.delete_file(req.id, req.rel_path)
    reply({"success": True, "id": req.id, "rel_path": req.rel_path}, None)


def rename_file(ctx: Context, req: models.RenameFileRequest, reply: Reply) -> None:
    ctx.store.rename(req.id, req.old_path, req.new_path)
    reply({"success": True, "id": req.id, "old_path": req.old_path, "new_path": req.new_path}, None)


def fork_session(ctx: Context, req: models.ForkSessionRequest, reply: Reply) -> None:
    reply({"new_id": ctx.store.fork(req.id)}, None)


def create_session(ctx: Context, req: models.CreateSessionRequest, reply: Reply) -> None:
    reply({"id": ctx.store.create(req.id)}, None)


def delete_session(ctx: Context, req: models.DeleteSessionRequest, reply: Reply) -> None:
    ctx.store.delete(req.id)
    reply({"success": True, "id": req.id}, None)


def list_files(ctx: Context, req: models.ListFilesRequest, reply: Reply) -> None:
    reply({"id": req.id, "files": ctx.store.list(req.id)}, None)


def status(ctx: Context, req: models.StatusRequest, reply: Reply) -> None:
    pool = ctx.pool
    reply({
        "ready": pool.accepting and pool.idle > 0,
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
    "status": status,
}
assert set(HANDLERS) == set(models.OPERATIONS), "every wire operation needs a handler"
