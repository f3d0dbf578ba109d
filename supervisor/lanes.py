"""Per-session ordering of operations, and the threads that keep heavy ones off the loop.

The supervisor has one poll loop; a fork of a 200,000-entry session done in it would
stall every other client. So each operation on a session is submitted here as an `Op`:

- a quick store operation (`QUICK`: read, rename, create, a write whose quota check needs
  no walk) runs in the loop at once when its session is free;
- a heavy one (`HEAVY`: list, delete of a file, a write that must measure the usage; or
  `EXCLUSIVE`: fork, delete of the session) runs on a small thread pool, and its result
  comes back to the loop through a pipe in the loop's poller (ZeroMQ sockets are only
  ever used by the loop thread: every `done`/`fail` callback runs there);
- a job (`JOB`: run, evaluate) first runs its store part (the session's allowance) like
  a store operation, then is handed to the sandbox pool and counts as running until its
  sandbox reports.

Ordering, per session: operations start in the order they arrived; at most one store
operation of a session runs at a time; jobs run alongside each other and alongside
store operations; an `EXCLUSIVE` operation starts only when none of the session's jobs
is running, and everything that arrived after it waits for it. A fork is therefore one
consistent snapshot (no command changes the tree while it is copied), and a delete never
races a command. An exclusive operation that has waited `exclusive_wait` seconds for the
session's jobs is answered 503 (retry), and what queued behind it goes on.
"""

from __future__ import annotations

import collections
import concurrent.futures
import enum
import logging
import os
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from protocol.errors import ErrorCode, ServiceError

log = logging.getLogger("supervisor.lanes")

Fail = Callable[[ServiceError], None]


class Kind(enum.Enum):
    QUICK = "quick"
    HEAVY = "heavy"
    EXCLUSIVE = "exclusive"
    JOB = "job"


@dataclass
class Op:
    """One operation of a session.

    `work` does the store part (on a thread unless `background` is false) and returns a
    value for `done`, which runs in the loop. For a JOB, `done` hands the job to the pool
    and must arrange for `Lanes.job_finished` to be called once when the job ends.
    """

    kind: Kind
    work: Callable[[], Any]
    done: Callable[[Any], None]
    fail: Fail
    background: bool
    queued_at: float = field(default_factory=time.monotonic)


@dataclass
class _Lane:
    pending: collections.deque[Op] = field(default_factory=collections.deque)
    store_running: Op | None = None
    jobs_running: int = 0

    @property
    def idle(self) -> bool:
        return not self.pending and self.store_running is None and self.jobs_running == 0


class Lanes:
    """The per-session queues and the thread pool; driven by the supervisor's loop."""

    def __init__(self, threads: int, exclusive_wait: float) -> None:
        self.exclusive_wait = exclusive_wait
        self._executor = concurrent.futures.ThreadPoolExecutor(threads, thread_name_prefix="store")
        self._finished: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self.wake_fd, self._wake_w = os.pipe()
        os.set_blocking(self.wake_fd, False)
        os.set_blocking(self._wake_w, False)
        self._lanes: dict[str, _Lane] = {}
        self._pumping: set[str] = set()  # a job refused at once re-enters _pump: let the outer call go on

    # --- submitting ----------------------------------------------------------------------

    def submit(self, session: str, kind: Kind, work: Callable[[], Any], done: Callable[[Any], None],
               fail: Fail, background: bool | None = None) -> None:
        """Queue an operation of `session`; it starts as soon as the ordering allows.

        `background` defaults to true for HEAVY and EXCLUSIVE, false otherwise.
        """
        if background is None:
            background = kind in (Kind.HEAVY, Kind.EXCLUSIVE)
        lane = self._lanes.setdefault(session, _Lane())
        lane.pending.append(Op(kind, work, done, fail, background))
        self._pump(session)

    def job_finished(self, session: str) -> None:
        """A job started by a JOB operation of `session` has ended (reported or failed)."""
        lane = self._lanes.get(session)
        if lane is None or lane.jobs_running <= 0:
            log.error("a job of session %s ended that was not counted as running", session)
            return
        lane.jobs_running -= 1
        self._pump(session)

    # --- the loop's side -------------------------------------------------------------------

    def on_wake(self) -> None:
        """Run the callbacks of the operations the threads have finished (in the loop)."""
        try:
            while os.read(self.wake_fd, 4096):
                pass
        except BlockingIOError:
            pass
        while True:
            try:
                callback = self._finished.get_nowait()
            except queue.Empty:
                return
            callback()

    def busy_sessions(self) -> set[str]:
        return {session for session, lane in self._lanes.items() if not lane.idle}

    @property
    def idle(self) -> bool:
        return all(lane.idle for lane in self._lanes.values())

    def next_deadline(self) -> float:
        """When the oldest exclusive operation waiting for jobs gives up."""
        waiting = [lane.pending[0].queued_at + self.exclusive_wait for lane in self._lanes.values()
                   if lane.pending and lane.pending[0].kind is Kind.EXCLUSIVE and lane.jobs_running]
        return min(waiting, default=float("inf"))

    def expire(self, now: float) -> None:
        """Answer 503 to exclusive operations that waited too long for their session's jobs."""
        for session, lane in list(self._lanes.items()):
            head = lane.pending[0] if lane.pending else None
            if (head is not None and head.kind is Kind.EXCLUSIVE and lane.jobs_running
                    and now >= head.queued_at + self.exclusive_wait):
                lane.pending.popleft()
                self._call(head.fail, ServiceError(
                    ErrorCode.UNAVAILABLE,
                    f"the session's jobs were still running after {self.exclusive_wait:g} s; "
                    "this operation waits for them: retry when they have finished"))
                self._pump(session)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
        os.close(self._wake_w)
        os.close(self.wake_fd)

    # --- scheduling ------------------------------------------------------------------------

    def _can_start(self, lane: _Lane, op: Op) -> bool:
        if op.kind is Kind.EXCLUSIVE:
            return lane.store_running is None and lane.jobs_running == 0
        return lane.store_running is None

    def _pump(self, session: str) -> None:
        lane = self._lanes.get(session)
        if lane is None or session in self._pumping:
            return
        self._pumping.add(session)
        try:
            while lane.pending and self._can_start(lane, lane.pending[0]):
                op = lane.pending.popleft()
                lane.store_running = op
                if op.background:
                    self._executor.submit(self._in_thread, session, op)
                    break
                self._finish(session, op, *_attempt(op.work))
        finally:
            self._pumping.discard(session)
        if lane.idle:
            del self._lanes[session]

    def _in_thread(self, session: str, op: Op) -> None:
        outcome = _attempt(op.work)
        self._finished.put(lambda: self._finish(session, op, *outcome))
        try:
            os.write(self._wake_w, b"\0")
        except BlockingIOError:
            pass  # the pipe is full: the loop has wake-ups pending anyway

    def _finish(self, session: str, op: Op, value: Any, error: ServiceError | None) -> None:
        """In the loop: the store part of `op` is over; answer or hand the job on."""
        lane = self._lanes[session]  # a lane with an operation running is never removed
        lane.store_running = None
        if error is not None:
            self._call(op.fail, error)
        elif op.kind is Kind.JOB:
            lane.jobs_running += 1
            try:
                op.done(value)
            except ServiceError as exc:  # the pool refused it (full, or shutting down)
                lane.jobs_running -= 1
                self._call(op.fail, exc)
            except Exception:  # noqa: BLE001 - a bug must not take the loop down
                lane.jobs_running -= 1
                log.exception("starting a job failed")
                self._call(op.fail, ServiceError(ErrorCode.INTERNAL, "internal error"))
        else:
            self._call(lambda _: op.done(value), None)
        if op.background:
            self._pump(session)

    @staticmethod
    def _call(callback: Callable[[Any], None], arg: Any) -> None:
        try:
            callback(arg)
        except Exception:  # noqa: BLE001 - a bug must not take the loop down
            log.exception("answering an operation failed")


def _attempt(work: Callable[[], Any]) -> tuple[Any, ServiceError | None]:
    """Run `work`, turning any failure into the ServiceError its caller should see."""
    try:
        return work(), None
    except ServiceError as exc:
        return None, exc
    except Exception:  # noqa: BLE001 - a bug must not take the loop (or a thread) down
        log.exception("operation failed")
        return None, ServiceError(ErrorCode.INTERNAL, "internal error")
