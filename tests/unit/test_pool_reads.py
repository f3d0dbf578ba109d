"""A sandbox's report larger than one read from its socket reaches the job whole."""

from __future__ import annotations

import json
import select
import socket
import struct
import subprocess
import threading
import time
from typing import Any

from supervisor.pool import RECV_SIZE, Pool, Sandbox
from supervisor.sandbox.messages import RunJob
from supervisor.states import SandboxState


def _send(sock: socket.socket, data: bytes) -> None:
    try:
        sock.sendall(data)
    except OSError:
        pass  # the reader stopped reading: the test says why


def test_a_report_of_several_reads_arrives_whole_and_unchanged():
    pool = Pool({}, pool_size=1, max_busy=1, max_queue=1, register=lambda fd: None, unregister=lambda fd: None)
    init = subprocess.Popen(["sleep", "30"])  # stands in for the sandbox's init process
    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    sandbox = Sandbox(pid=init.pid, slot=0, sock=ours, state=SandboxState.IDLE)
    pool.by_fd[ours.fileno()] = sandbox
    pool.by_pid[init.pid] = sandbox
    answers: list[dict[str, Any]] = []
    try:
        pool.submit(RunJob(session="s", cmd="true", stdin="", timeout=1, memory_mb=64, output_limit=10, fsize=10),
                    5.0, answers.append)
        theirs.recv(65536)  # the job
        # Every read lands in the same buffer: a report of 2.5 reads that differs all along
        # shows a read cut short, taken twice, or mixed with the one before.
        stdout = "".join(chr(ord("a") + i % 26) * 1000 for i in range(RECV_SIZE * 5 // 2000))
        frame = json.dumps({"ok": True, "body": {"stdout": stdout}}).encode()
        writer = threading.Thread(target=_send, args=(theirs, struct.pack(">I", len(frame)) + frame))
        writer.start()
        deadline = time.monotonic() + 10
        while not answers and sandbox.killed_for is None and time.monotonic() < deadline:
            select.select([ours], [], [], 1)
            pool.handle(ours.fileno())
        assert sandbox.killed_for is None
        theirs.close()  # the writer is done, or gives up on a closed socket
        writer.join(5)
        assert answers == [{"ok": True, "body": {"stdout": stdout}}]
        assert sandbox.state == SandboxState.CLEANING
    finally:
        init.kill()
        init.wait()
        ours.close()
