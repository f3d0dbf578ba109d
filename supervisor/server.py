"""The supervisor's single poll loop.

One thread waits on the ZeroMQ ROUTER socket, the signal wake-up pipe, the pipe through
which the store's worker threads hand back finished operations (`supervisor.lanes`), the
zygote's control socket and every sandbox's socket, and runs whatever is ready;
deadlines (sandbox backstops, exclusive operations waiting for jobs, the idle-session
sweep) set the poll timeout. Signal handlers only write to the
wake-up pipe; SIGTERM stops new jobs and waits for running ones before exiting.
"""

from __future__ import annotations

import fcntl
import functools
import json
import logging
import os
import signal
import time
from typing import Any

import pydantic
import zmq

from protocol import envelope, models
from protocol.errors import ErrorCode, ServiceError
from supervisor import curve, joblog
from supervisor.lanes import Kind
from supervisor.operations import HANDLERS, Context

log = logging.getLogger("supervisor")
SWEEP_MAX_INTERVAL = 60.0   # a long TTL is checked once a minute
SWEEP_MIN_INTERVAL = 0.5    # a tiny TTL (tests) still does not turn the sweep into a busy loop
MAX_POLL_WAIT = 60.0        # the loop wakes at least this often, whatever is scheduled
REPLY_LINGER_MS = 2000      # on exit, time given to the last replies to leave the socket
CLOSE_GRACE = 1.0           # after the drain, time for clients to read the last replies


def sweep_interval(ttl: float) -> float | None:
    """How often idle sessions are looked for: a quarter of the TTL, between the bounds.

    So a session is removed at most `ttl + ttl/4` seconds after its last use (or
    `ttl + 60 s` for long TTLs). None when sessions never expire (`ttl <= 0`).
    """
    if ttl <= 0:
        return None
    return min(SWEEP_MAX_INTERVAL, max(SWEEP_MIN_INTERVAL, ttl / 4))


class Server:
    def __init__(self, ctx: Context, endpoint: str, drain_seconds: float) -> None:
        self.ctx = ctx
        self.endpoint = endpoint
        self.drain_seconds = drain_seconds
        self.zmq = zmq.Context()
        self.router = self.zmq.socket(zmq.ROUTER)
        self.router.setsockopt(zmq.LINGER, 0)
        self.router.setsockopt(zmq.SNDHWM, 0)
        self.router.setsockopt(zmq.RCVHWM, 0)
        self.poller = zmq.Poller()
        self.auth: curve.ThreadAuthenticator | None = None
        self.stopping_since: float | None = None
        self.closing = False
        # Without a TTL the sweep still runs, for the quota's housekeeping (`store.settle`).
        self.sweep_every = sweep_interval(ctx.config.session_ttl) or SWEEP_MAX_INTERVAL
        self.next_sweep = time.monotonic() + self.sweep_every

    def bind(self) -> None:
        """Bind the endpoint, as a CURVE server first when keys are configured.

        Raises:
            curve.CurveRefused: a key file is unusable.
            zmq.ZMQError: the endpoint cannot be bound.
        """
        self.auth = curve.secure(self.router, self.zmq, self.ctx.config)
        self.router.bind(self.endpoint)
        self.poller.register(self.router, zmq.POLLIN)

    # --- loop --------------------------------------------------------------------------

    def serve(self) -> None:
        wake_r, wake_w = os.pipe()
        for fd in (wake_r, wake_w):
            os.set_blocking(fd, False)
        signal.set_wakeup_fd(wake_w)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: None)
        self.poller.register(wake_r, zmq.POLLIN)
        lanes = self.ctx.lanes
        self.poller.register(lanes.wake_fd, zmq.POLLIN)
        pool = self.ctx.pool
        while not self._finished():
            timeout = self._timeout()
            for item, _ in self.poller.poll(timeout):
                if item is self.router:
                    self._drain_router()
                elif item == wake_r:
                    self._on_signals(os.read(wake_r, 64))
                elif item == lanes.wake_fd:
                    lanes.on_wake()
                elif pool.owns(item):
                    try:
                        pool.handle(item)
                    except Exception:  # noqa: BLE001 - one sandbox's trouble must not stop the service
                        log.exception("handling a sandbox event failed")
            now = time.monotonic()
            pool.enforce_deadlines(now)
            lanes.expire(now)
            if now >= self.next_sweep:
                try:
                    self._sweep()
                except Exception:  # noqa: BLE001 - housekeeping must never stop the service
                    log.exception("the idle-session sweep failed")
                self.next_sweep = time.monotonic() + self.sweep_every
        # The drain is over: jobs still queued never started, so they are answered "not
        # executed" (503, retry elsewhere) rather than left to look lost mid-job (504).
        pool.expire_queued(float("inf"))
        self.poller.unregister(lanes.wake_fd)
        lanes.shutdown()
        self._close()
        log.info("supervisor stopped")

    def _close(self) -> None:
        """Close the socket without losing the replies of the drained jobs.

        A web worker's socket (ZMQ_IMMEDIATE) discards the replies it has received but not
        yet read when its connection closes, so the connections stay open for
        CLOSE_GRACE after the last job, answering anything new with 503; then LINGER lets
        whatever is still queued leave (it is 0 while serving).
        """
        self.closing = True
        until = time.monotonic() + CLOSE_GRACE
        while (left := until - time.monotonic()) > 0:
            if self.router.poll(int(left * 1000) + 1, zmq.POLLIN):
                self._drain_router()
        self.router.setsockopt(zmq.LINGER, REPLY_LINGER_MS)
        self.router.close()
        if self.auth is not None:
            self.auth.stop()
        self.zmq.term()

    def _timeout(self) -> int:
        now = time.monotonic()
        next_event = min(self.ctx.pool.next_deadline(), self.ctx.lanes.next_deadline(), self.next_sweep,
                         now + MAX_POLL_WAIT)
        if self.stopping_since is not None:
            next_event = min(next_event, now + 0.1)
        return max(int((next_event - now) * 1000) + 1, 1)

    def _finished(self) -> bool:
        if self.stopping_since is None:
            return False
        pool = self.ctx.pool
        idle = pool.busy == 0 and not pool.queue and self.ctx.lanes.idle
        return idle or time.monotonic() - self.stopping_since > self.drain_seconds

    def _on_signals(self, data: bytes) -> None:
        if any(b in (signal.SIGTERM, signal.SIGINT) for b in data) and self.stopping_since is None:
            log.info("stopping: finishing %d running job(s), taking no new ones", self.ctx.pool.busy)
            self.stopping_since = time.monotonic()
            self.ctx.pool.accepting = False

    def _sweep(self) -> None:
        """Remove sessions idle for longer than the TTL. A session with a job running or
        queued, or an operation under way, is in use, whatever its age: it is marked used
        now and never removed. The removals run on the sessions' lanes, off the loop."""
        pool, store, lanes = self.ctx.pool, self.ctx.store, self.ctx.lanes
        jobs = [s.job for s in pool.by_pid.values() if s.job is not None] + list(pool.queue)
        in_pool = {job.payload.session for job in jobs if job.payload.session}
        store.settle(in_pool)
        ttl = self.ctx.config.session_ttl
        if ttl <= 0:
            return
        for session_id in store.expired(ttl, in_pool | lanes.busy_sessions()):
            lanes.submit(session_id, Kind.EXCLUSIVE, functools.partial(store.expire, session_id, ttl),
                         functools.partial(self._expired, session_id), self._expire_failed)

    def _expired(self, session_id: str, removed: bool) -> None:
        if removed:
            log.info("removed idle session %s", session_id)
            self.ctx.pool.counters["sessions_expired"] += 1

    @staticmethod
    def _expire_failed(exc: ServiceError) -> None:
        log.error("removing an idle session failed: %s", exc.detail)

    # --- requests ----------------------------------------------------------------------

    def _drain_router(self) -> None:
        while True:
            try:
                frames = self.router.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            if len(frames) < 2:
                continue
            self._handle(frames[0], frames[-1])

    def _handle(self, identity: bytes, raw: bytes) -> None:
        request_id = envelope.request_id_of(raw)
        received = time.monotonic()
        job: dict[str, Any] = {"kind": "-", "session": None, "request_id": ""}  # known once decoded
        replied = False

        def reply(body: dict[str, Any] | None, error: ServiceError | None) -> None:
            nonlocal replied
            if replied:
                return
            try:
                joblog.write(job["kind"], job["session"] or (body or {}).get("id"), job["request_id"],
                             (time.monotonic() - received) * 1000, body, error)
            except Exception:  # noqa: BLE001 - a log line must never cost a reply
                log.exception("could not log a job line")
            try:
                message = envelope.encode_reply(envelope.Reply(id=request_id, body=body, error=error))
            except Exception:  # noqa: BLE001 - a reply that cannot be encoded is a bug: say so, never hang
                log.exception("could not encode a reply")
                message = envelope.encode_reply(envelope.Reply(
                    id=request_id, body=None, error=ServiceError(ErrorCode.INTERNAL, "internal error")))
            replied = True
            try:
                self.router.send_multipart([identity, message], zmq.NOBLOCK)
            except zmq.ZMQError as exc:
                log.warning("could not send a reply: %s", exc)

        try:
            if self.closing:
                raise ServiceError(ErrorCode.UNAVAILABLE, "the supervisor is shutting down; retry shortly")
            request = envelope.decode_request(raw)
            job.update(kind=request.op, request_id=request.request_id)
            handler = HANDLERS.get(request.op)
            if handler is None:
                raise ServiceError(ErrorCode.BAD_REQUEST, f"unknown operation {request.op!r}")
            model = models.OPERATIONS[request.op][0]
            body = model.model_validate(request.body, context={"config": self.ctx.config})
            job["session"] = getattr(body, "id", None)
            handler(self.ctx, body, reply)
        except ServiceError as exc:
            reply(None, exc)
        except pydantic.ValidationError as exc:
            reply(None, ServiceError(ErrorCode.INVALID, json.loads(exc.json(include_url=False))))
        except Exception:  # noqa: BLE001 - a bug must not take the loop down
            log.exception("operation failed")
            reply(None, ServiceError(ErrorCode.INTERNAL, "internal error"))


def lock(path: str) -> int:
    """Hold an exclusive lock on `path` for the life of the process.

    Raises:
        RuntimeError: another supervisor holds it.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise RuntimeError(f"another supervisor is already running (it holds {path})") from None
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    return fd
