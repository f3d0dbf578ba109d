"""A sandbox that sends a malformed report is killed; the supervisor's loop carries on."""

from __future__ import annotations

import socket
import struct
import subprocess
from typing import Any

from supervisor.pool import Pool, Sandbox
from supervisor.sandbox.messages import RunJob
from supervisor.states import SandboxState


def test_a_malformed_frame_kills_the_sandbox_and_fails_only_its_job():
    registered: set[int] = set()
    pool = Pool({}, pool_size=1, max_busy=1, max_queue=1,
                register=registered.add, unregister=registered.discard)
    victim = subprocess.Popen(["sleep", "30"])  # stands in for the sandbox's init process
    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    sandbox = Sandbox(pid=victim.pid, slot=0, sock=ours, state=SandboxState.IDLE)
    pool.by_fd[ours.fileno()] = sandbox
    pool.by_pid[victim.pid] = sandbox
    answers: list[dict[str, Any]] = []
    pool.submit(RunJob(session="s", cmd="true", stdin="", timeout=1, memory_mb=64, output_limit=10, fsize=10),
                5.0, answers.append)  # dispatched to our sandbox
    theirs.recv(65536)
    garbage = b"{not json"
    theirs.sendall(struct.pack(">I", len(garbage)) + garbage)
    pool.handle(ours.fileno())  # must not raise
    assert victim.wait(timeout=5) == -9
    assert sandbox.killed_for == "the sandbox sent a malformed report"
    theirs.close()
    pool.handle(ours.fileno())  # the socket's end: the job is failed with the reason
    assert answers and answers[0]["ok"] is False and "malformed" in answers[0]["error"]
