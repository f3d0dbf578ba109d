"""The pool's state rules, on a pool whose sandboxes are socket pairs (no zygote).

The zygote restart itself is tested against the real processes in
tests/lifecycle/test_zygote_restart.py; these are the rules it relies on.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
from typing import Any

import pytest

from protocol.errors import ErrorCode
from supervisor.pool import Pool, Sandbox
from supervisor.sandbox.messages import RunJob
from supervisor.states import TRANSITIONS, SandboxState, TransitionError

RUN = RunJob(session="s", cmd="true", stdin="", timeout=1, memory_mb=64, output_limit=10, fsize=10)


def make_pool(pool_size: int = 2, max_busy: int = 2) -> Pool:
    return Pool({}, pool_size=pool_size, max_busy=max_busy, max_queue=8,
                register=lambda fd: None, unregister=lambda fd: None)


def add_idle(pool: Pool, slot: int) -> tuple[Sandbox, socket.socket, subprocess.Popen]:
    stand_in = subprocess.Popen(["sleep", "30"])
    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    sandbox = Sandbox(pid=stand_in.pid, slot=slot, sock=ours, state=SandboxState.IDLE)
    pool.by_fd[ours.fileno()] = sandbox
    pool.by_pid[stand_in.pid] = sandbox
    return sandbox, theirs, stand_in


def test_the_table_allows_only_the_moves_of_a_one_shot_sandbox() -> None:
    assert TRANSITIONS[SandboxState.DONE] == frozenset()
    pool = make_pool()
    sandbox, _, stand_in = add_idle(pool, 0)
    try:
        pool.transition(sandbox, SandboxState.BUSY)
        with pytest.raises(TransitionError):
            pool.transition(sandbox, SandboxState.IDLE)  # a sandbox is never reused
        pool.transition(sandbox, SandboxState.DONE)
        with pytest.raises(TransitionError):
            pool.transition(sandbox, SandboxState.BUSY)
    finally:
        stand_in.kill()


def test_a_job_whose_sandbox_died_before_taking_it_goes_to_the_next_sandbox() -> None:
    pool = make_pool()
    dead, dead_peer, first = add_idle(pool, 0)
    alive, alive_peer, second = add_idle(pool, 1)
    dead_peer.close()
    try:
        answers: list[dict[str, Any]] = []
        pool.submit(RUN, 5.0, answers.append)
        assert dead.state == SandboxState.DONE and dead.job is None
        assert alive.state == SandboxState.BUSY and alive.job is not None
        assert answers == [] and not pool.queue
        assert alive_peer.recv(16)  # the job arrived there
    finally:
        first.kill()
        second.kill()


def test_a_queued_job_past_its_start_by_time_is_answered_unavailable_and_never_sent() -> None:
    pool = make_pool(pool_size=1, max_busy=1)
    answers: list[dict[str, Any]] = []
    pool.submit(RUN, 5.0, answers.append, queue_wait=0.05)
    assert answers == [] and pool.next_deadline() <= time.monotonic() + 0.05  # the loop wakes for it
    time.sleep(0.06)
    pool.enforce_deadlines(time.monotonic())
    assert answers == [{"ok": False, "code": ErrorCode.UNAVAILABLE.value, "error": answers[0]["error"],
                        "cause": "queue_wait"}]
    assert not pool.queue
    assert pool.counters["rejected_queue_wait"] == 1


def test_spawns_in_flight_are_asked_once_and_forgotten_with_their_zygote() -> None:
    pool = make_pool(pool_size=3, max_busy=1)
    ours, zygote_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    pool.control = ours
    pool.replenish()
    pool.replenish()
    asked = [json.loads(zygote_end.recv(100)) for _ in range(3)]
    assert [m["op"] for m in asked] == ["spawn"] * 3 and len(pool.spawning) == 3
    zygote_end.setblocking(False)
    with pytest.raises(BlockingIOError):
        zygote_end.recv(100)  # the second replenish asked nothing more
    pool.spawning.clear()  # what losing the zygote does (Pool._zygote_lost)
    pool.free_slots.extend(m["slot"] for m in asked)
    pool.replenish()
    assert len(pool.spawning) == 3  # the next zygote is asked for a full pool
