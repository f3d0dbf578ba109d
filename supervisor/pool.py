"""The pool of pre-forked sandboxes, as seen from the supervisor.

The pool keeps `pool_size` sandboxes confined and waiting, hands each job to one of them,
queues jobs when all are busy (refusing new ones past `max_queue`), enforces a backstop
deadline by killing a sandbox's init (which takes its whole pid namespace with it), and
replaces every sandbox that exits. A sandbox serves job after job: after each one it
cleans itself (`sandbox.hygiene`) and says it is ready again. It is driven by the supervisor's poll loop: it owns no
thread, and all its sockets are registered in the loop's poller.

Every change of a sandbox's state goes through `Pool.transition`, checked against the
table in `supervisor.states`. Spawns asked of the zygote and not yet answered are kept in
`spawning`; they belong to that zygote, so losing it forgets them with it and its
successor is asked for a full pool.

A job that waits in the queue carries a start-by time: it is started by then or answered
"not executed" (UNAVAILABLE), never started later, because the web tier answers from
its own clock and a caller told "retry" must be able to retry without running the job
twice (the nesting of deadlines is in `protocol.budget`). A job that started and then lost
its sandbox is answered OUTCOME_UNKNOWN: it may have done part or all of its work.

The pool is ready when it takes jobs, has an idle sandbox, and sandboxes can run units:
a sandbox is ready only once its template has forked (`template.Handle.check_fork`), and a
job whose unit could not be forked (the sandbox uid's process limit reached by processes
that are not ours, say) retires its sandbox. Until a new sandbox has started, the pool
says why it is not ready; sandboxes that fail to start are asked for again after a pause
that doubles each time, not in a loop.
"""

from __future__ import annotations

import collections
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from protocol.budget import BACKSTOP_GRACE
from protocol.errors import ErrorCode, ServiceError
from supervisor.sandbox import frames
from supervisor.sandbox.messages import FORK_FAILED, SandboxJob, to_wire
from supervisor.states import SandboxState, check_transition

log = logging.getLogger("supervisor.pool")

RESPAWN_DELAY = 0.5      # after a sandbox failed to start, the first pause before asking for more
RESPAWN_DELAY_MAX = 10.0
RECV_SIZE = 1 << 20      # the most read from a sandbox's socket at a time


@dataclass
class Job:
    """One `run` or `evaluate` waiting for, or held by, a sandbox.

    Attributes:
        payload: What the sandbox is sent.
        callback: Gets the sandbox's report, or `{"ok": False, "code": ..., "error": ...,
            "cause": ...}`, `cause` a word for the log (`queue_wait`, `backstop`, ...).
        budget: Seconds the job may take inside the sandbox.
        start_by: Monotonic time after which the job must not be started any more.
    """

    payload: SandboxJob
    callback: Callable[[dict[str, Any]], None]
    budget: float
    start_by: float = float("inf")


@dataclass
class Sandbox:
    pid: int
    slot: int
    sock: socket.socket
    state: str = SandboxState.STARTING
    reader: frames.FrameReader = field(default_factory=frames.FrameReader)
    job: Job | None = None
    deadline: float = float("inf")
    killed_for: str | None = None
    kill_cause: str = "sandbox_died"  # the word for the log of why its job got no report
    failure: ErrorCode = ErrorCode.OUTCOME_UNKNOWN  # how its job is answered if it never reports


class Pool:
    """Pre-forked sandboxes, the job queue, and the zygote that forks them."""

    def __init__(self, settings: dict[str, Any], pool_size: int, max_busy: int, max_queue: int,
                 register: Callable[[int], None], unregister: Callable[[int], None]) -> None:
        self.settings = settings
        self.pool_size = pool_size
        self.max_busy = max_busy
        self.max_queue = max_queue
        self._register = register
        self._unregister = unregister
        self.free_slots = collections.deque(range(pool_size + max_busy))
        self.by_fd: dict[int, Sandbox] = {}
        self.by_pid: dict[int, Sandbox] = {}
        self.queue: collections.deque[Job] = collections.deque()
        self.counters: collections.Counter[str] = collections.Counter()
        self.zygote: subprocess.Popen | None = None
        self.control: socket.socket | None = None
        self.accepting = True
        # Slots asked of the current zygote and not yet answered with a sandbox.
        self.spawning: set[int] = set()
        # Why sandboxes cannot run units (the last start failure, or a fork that failed);
        # None once a sandbox has started since.
        self.failing: str | None = None
        self.respawn_at = 0.0  # no sandbox is asked for before this (monotonic) time
        self.respawn_delay = RESPAWN_DELAY
        # Every read from a sandbox lands here: a new bytes object of RECV_SIZE per read
        # would cost an mmap, a mremap and a munmap (glibc maps blocks that large), three
        # times per job (the result, the disk usage, "ready").
        self._received = memoryview(bytearray(RECV_SIZE))

    # --- states ------------------------------------------------------------------------

    def transition(self, sandbox: Sandbox, new: str) -> None:
        """Move `sandbox` to state `new`: the only place a sandbox's state changes.

        Raises:
            supervisor.states.TransitionError: the move is not in `states.TRANSITIONS`.
        """
        check_transition(sandbox.state, new)
        sandbox.state = new

    # --- zygote ------------------------------------------------------------------------

    def start(self) -> None:
        """Start the zygote and wait until it has built the sandbox image.

        Raises:
            RuntimeError: the zygote could not confine itself; the message says why.
        """
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        self.zygote = subprocess.Popen(
            [self.settings.get("python", sys.executable), "-m", "supervisor.sandbox.zygote", str(theirs.fileno())],
            pass_fds=[theirs.fileno()], env=env, cwd=root, stdin=subprocess.DEVNULL,
            # Its own process group: a SIGTERM to the supervisor's group (Ctrl-C, honcho,
            # `kill -- -PGID`) must reach only the supervisor, which then drains; the
            # zygote, the sandboxes and user code die with it (PDEATHSIG), never before.
            start_new_session=True)
        theirs.close()
        ours.send(json.dumps(self.settings).encode())
        ours.settimeout(30)
        reply = json.loads(ours.recv(65536) or b'{"ok": false, "error": "zygote exited"}')
        if not reply.get("ok"):
            raise RuntimeError(f"cannot start the sandbox zygote: {reply.get('error')}")
        ours.setblocking(False)
        self.control = ours
        self._register(ours.fileno())
        self.replenish()

    def stop(self) -> None:
        if self.control is not None:
            self._unregister(self.control.fileno())
            self.control.close()
            self.control = None
        if self.zygote is not None:
            self.zygote.kill()
            self.zygote.wait()
            self.zygote = None

    def _zygote_lost(self) -> None:
        """Start a new zygote and a full pool: nothing of the old one is waited for.

        Its sandboxes die with it (PDEATHSIG), so their jobs are answered OUTCOME_UNKNOWN,
        and the spawns it never answered never will be: their slots are free again.
        """
        log.error("the sandbox zygote exited; restarting it")
        self.counters["zygote_restarts"] += 1
        self.stop()
        for sandbox in list(self.by_pid.values()):
            sandbox.kill_cause = "zygote_lost"
            self._forget(sandbox, "the sandbox was lost with its zygote while running the job")
        self.spawning.clear()
        self.free_slots = collections.deque(range(self.pool_size + self.max_busy))
        self.start()

    # --- jobs --------------------------------------------------------------------------

    def submit(self, payload: SandboxJob, budget: float, callback: Callable[[dict[str, Any]], None],
               queue_wait: float = float("inf")) -> None:
        """Run `payload` in a sandbox; `callback` gets the sandbox's reply frame.

        Args:
            payload: The job as the sandbox takes it.
            budget: Seconds the job may run once started (its backstop follows it).
            callback: Called once with the report (and again with the disk usage).
            queue_wait: Seconds the job may wait for a sandbox; after that it is answered
                UNAVAILABLE and never started (see `protocol.budget`).

        Raises:
            ServiceError(UNAVAILABLE): shutting down, or the queue is full.
        """
        if not self.accepting:
            raise ServiceError(ErrorCode.UNAVAILABLE, "the supervisor is shutting down", cause="shutting_down")
        if len(self.queue) >= self.max_queue:
            self.counters["rejected_overload"] += 1
            raise ServiceError(ErrorCode.UNAVAILABLE, "all sandboxes are busy and the queue is full; retry shortly",
                               cause="queue_full")
        self.queue.append(Job(payload, callback, budget, start_by=time.monotonic() + queue_wait))
        self._dispatch()

    def _dispatch(self) -> None:
        self.expire_queued(time.monotonic())
        while self.queue and self.busy < self.max_busy:
            sandbox = next((s for s in self.by_pid.values() if s.state == SandboxState.IDLE), None)
            if sandbox is None:
                break
            job = self.queue.popleft()
            self.transition(sandbox, SandboxState.BUSY)
            sandbox.job = job
            sandbox.deadline = time.monotonic() + job.budget + BACKSTOP_GRACE
            try:
                sandbox.sock.setblocking(True)
                frames.send(sandbox.sock, to_wire(job.payload))
            except OSError:
                # It died before it had the whole job, so the job did not start: it goes
                # back to the head of the queue for the next sandbox.
                sandbox.job = None
                self.transition(sandbox, SandboxState.DONE)
                self.queue.appendleft(job)
            finally:
                sandbox.sock.setblocking(False)
        self.replenish()

    def expire_queued(self, now: float) -> None:
        """Answer UNAVAILABLE every queued job whose start-by time has passed.

        Such a job is never started: its caller is told it did not run, and may retry.
        """
        waiting: collections.deque[Job] = collections.deque()
        expired: list[Job] = []
        for job in self.queue:
            (expired if now >= job.start_by else waiting).append(job)
        if not expired:
            return
        self.queue = waiting
        for job in expired:
            self.counters["rejected_queue_wait"] += 1
            job.callback({"ok": False, "code": ErrorCode.UNAVAILABLE.value,
                          "error": "no sandbox became free in time; the job was not started, retry shortly",
                          "cause": "queue_wait"})

    @property
    def busy(self) -> int:
        return sum(1 for s in self.by_pid.values() if s.state == SandboxState.BUSY)

    @property
    def idle(self) -> int:
        return sum(1 for s in self.by_pid.values() if s.state == SandboxState.IDLE)

    @property
    def ready(self) -> bool:
        """Takes jobs, has an idle sandbox, and sandboxes can run units."""
        return self.not_ready_because() is None

    def not_ready_because(self) -> str | None:
        if not self.accepting:
            return "the supervisor is shutting down"
        if self.failing is not None:
            return f"sandboxes cannot run units: {self.failing}"
        if self.idle == 0:
            return "no idle sandbox"
        return None

    def replenish(self) -> None:
        """Keep `pool_size` sandboxes idle or starting, plus one per queued job.

        Spawns already asked of this zygote count as starting, so that each is asked once;
        none is asked while the pause after a failed start lasts.
        """
        if self.control is None or time.monotonic() < self.respawn_at:
            return
        warming = (SandboxState.IDLE, SandboxState.STARTING, SandboxState.CLEANING)
        warm = sum(1 for s in self.by_pid.values() if s.state in warming)
        wanted = self.pool_size + min(len(self.queue), self.max_busy) - warm - len(self.spawning)
        for _ in range(max(wanted, 0)):
            if not self.free_slots:
                return
            slot = self.free_slots.popleft()
            self.spawning.add(slot)
            self.counters["spawn_requested"] += 1
            self.control.send(json.dumps({"op": "spawn", "slot": slot}).encode())

    # --- events ------------------------------------------------------------------------

    def owns(self, fd: int) -> bool:
        return fd in self.by_fd or (self.control is not None and fd == self.control.fileno())

    def handle(self, fd: int) -> None:
        if self.control is not None and fd == self.control.fileno():
            self._on_control()
        elif fd in self.by_fd:
            self._on_sandbox(self.by_fd[fd])

    def _on_control(self) -> None:
        assert self.control is not None
        while True:
            try:
                data, fds, _, _ = socket.recv_fds(self.control, 65536, 1)
            except BlockingIOError:
                return
            except OSError:  # ECONNRESET: it died with our requests unread
                data, fds = b"", []
            if not data:
                self._zygote_lost()
                return
            message = json.loads(data)
            if message["op"] == "spawned":
                self._on_spawned(message, fds)
            elif message["op"] == "exited":
                self._on_exited(message)

    def _on_spawned(self, message: dict[str, Any], fds: list[int]) -> None:
        self.counters["spawned"] += 1
        self.spawning.discard(message["slot"])
        sock = socket.socket(fileno=fds[0])
        sock.setblocking(False)
        sandbox = Sandbox(pid=message["pid"], slot=message["slot"], sock=sock)
        self.by_fd[sock.fileno()] = sandbox
        self.by_pid[sandbox.pid] = sandbox
        self._register(sock.fileno())

    def _on_exited(self, message: dict[str, Any]) -> None:
        sandbox = self.by_pid.pop(message["pid"], None)
        if sandbox is None:
            return
        # The exit can be reported before the poll loop has read the sandbox's reply:
        # read what it left (its end is closed, so this ends in EOF) before failing the job.
        for _ in range(64):
            if sandbox.state != SandboxState.BUSY or sandbox.sock.fileno() not in self.by_fd:
                break
            self._on_sandbox(sandbox)
        if sandbox.sock.fileno() in self.by_fd:
            self._close(sandbox)
        self._end(sandbox, sandbox.killed_for or "the sandbox died while running the job")
        self.free_slots.append(sandbox.slot)
        self.replenish()

    def _on_sandbox(self, sandbox: Sandbox) -> None:
        try:
            data = bytes(self._received[:sandbox.sock.recv_into(self._received)])
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._close(sandbox)
            self._end(sandbox, sandbox.killed_for or "the sandbox died while running the job")
            return
        try:
            messages = sandbox.reader.feed(data)
        except ValueError as exc:  # a sandbox that speaks garbage is killed, never trusted
            log.error("sandbox %d sent a malformed frame (%s); killing it", sandbox.pid, exc)
            sandbox.killed_for = "the sandbox sent a malformed report"
            sandbox.kill_cause = "malformed_report"
            sandbox.failure = ErrorCode.INTERNAL
            self._kill(sandbox)
            return
        for message in messages:
            self._on_message(sandbox, message)

    def _on_message(self, sandbox: Sandbox, message: dict[str, Any]) -> None:
        if sandbox.state in (SandboxState.STARTING, SandboxState.CLEANING):
            if "usage" in message and sandbox.job is not None:
                sandbox.job.callback(message)  # the session's disk usage, sent after the result
            elif message.get("ready"):
                if sandbox.state == SandboxState.STARTING:
                    self.failing = None  # it started, so its units can be forked
                    self.respawn_delay = RESPAWN_DELAY
                sandbox.job = None
                sandbox.deadline = float("inf")
                self.transition(sandbox, SandboxState.IDLE)
                self._dispatch()
            elif sandbox.state == SandboxState.STARTING:
                self._start_failed(sandbox, str(message.get("error")))
            return
        if sandbox.job is None:
            return
        if sandbox.state == SandboxState.BUSY:
            self.transition(sandbox, SandboxState.CLEANING)
            self.counters["jobs_done"] += 1
            sandbox.job.callback(message)
            if message.get("cause") == FORK_FAILED:
                self._fork_failed(sandbox, str(message.get("error")))
            self._dispatch()

    def _start_failed(self, sandbox: Sandbox, error: str) -> None:
        """A sandbox could not start: not ready until one does, and a pause before the next."""
        log.error("a sandbox failed to start: %s", error)
        self.counters["sandbox_start_failures"] += 1
        self.transition(sandbox, SandboxState.DONE)
        self.failing = f"the last sandbox failed to start: {error}"
        if self.respawn_at <= time.monotonic():  # once for the sandboxes asked for together
            self.respawn_at = time.monotonic() + self.respawn_delay
            self.respawn_delay = min(self.respawn_delay * 2, RESPAWN_DELAY_MAX)

    def _fork_failed(self, sandbox: Sandbox, error: str) -> None:
        """A job's unit could not be forked: not ready, and the sandbox is replaced, with
        every idle one (their templates share the uid's process limit), by sandboxes that
        must fork to start: the first that starts says forks work again."""
        uid = self.settings.get("uid")
        log.error("a sandbox could not fork a unit (%s); is a process that is not this supervisor's running "
                  "as uid %s or %s?", error, uid, None if uid is None else uid + 1)
        self.counters["units_not_forked"] += 1
        self.failing = f"a unit could not be forked: {error}"
        for retired in [sandbox, *(s for s in self.by_pid.values() if s.state == SandboxState.IDLE)]:
            self.transition(retired, SandboxState.DONE)  # never given another job
            self._kill(retired)

    def _end(self, sandbox: Sandbox, why: str) -> None:
        """The sandbox is gone or going: fail its job if it had one running, mark it DONE."""
        if sandbox.state == SandboxState.BUSY:
            self._fail(sandbox, why)
        elif sandbox.state != SandboxState.DONE:
            self.transition(sandbox, SandboxState.DONE)

    def _fail(self, sandbox: Sandbox, why: str) -> None:
        """Answer the job of a BUSY sandbox that will not report: the job started, so
        what it did is unknown (OUTCOME_UNKNOWN), unless the sandbox itself misbehaved
        (INTERNAL: our bug)."""
        job, sandbox.job = sandbox.job, None
        self.transition(sandbox, SandboxState.DONE)
        if job is not None:
            job.callback({"ok": False, "code": sandbox.failure.value, "error": why, "cause": sandbox.kill_cause})
            self._dispatch()

    def _close(self, sandbox: Sandbox) -> None:
        fd = sandbox.sock.fileno()
        if fd in self.by_fd:
            del self.by_fd[fd]
            self._unregister(fd)
            sandbox.sock.close()

    def _forget(self, sandbox: Sandbox, why: str) -> None:
        self._close(sandbox)
        self._end(sandbox, why)
        self.by_pid.pop(sandbox.pid, None)

    # --- deadlines ---------------------------------------------------------------------

    def _kill(self, sandbox: Sandbox) -> None:
        """SIGKILL a sandbox's init: its whole pid namespace goes with it."""
        try:
            os.kill(sandbox.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def next_deadline(self) -> float:
        """The next time the loop must wake: a backstop, a queued job's start-by, or the end
        of the pause after a failed start."""
        running = [s.deadline for s in self.by_pid.values() if s.state == SandboxState.BUSY and s.killed_for is None]
        respawn = [self.respawn_at] if self.respawn_at > time.monotonic() else []
        return min(running + respawn + [job.start_by for job in self.queue], default=float("inf"))

    def enforce_deadlines(self, now: float) -> None:
        """Kill a sandbox whose job overran its budget (its init did not stop it in time),
        and answer the queued jobs that can no longer start in time; after the pause that
        follows a failed start, ask for sandboxes again."""
        self.expire_queued(now)
        if self.respawn_at and now >= self.respawn_at:
            self.respawn_at = 0.0
            self.replenish()
        for sandbox in list(self.by_pid.values()):
            if sandbox.state == SandboxState.BUSY and now >= sandbox.deadline and sandbox.killed_for is None:
                sandbox.killed_for = "the job overran its deadline and its sandbox was killed"
                sandbox.kill_cause = "backstop"
                self.counters["kills_backstop"] += 1
                self._kill(sandbox)
