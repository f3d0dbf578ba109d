"""The pool refills after its zygote dies, whatever the zygote was doing.

The zygote is the real process (`python -m supervisor.sandbox.zygote`, the supervisor's
child). Sandboxes serve job after job, so the test makes the pool ask for more: with the
zygote stopped (SIGSTOP), more jobs arrive than there are sandboxes, and the
supervisor's requests for extra sandboxes stay unanswered, "in flight"; killing the
zygote then is the worst moment for a restart: the new zygote must be asked for a full
pool, not for the pool minus the requests the dead one never answered.
"""

from __future__ import annotations

import os
import signal
import threading
import uuid

import psutil

from tests.lifecycle.conftest import running_service, wait_for
from tests.support.service import Service

POOL_SIZE = 4


def zygote_of(svc: Service) -> int | None:
    """The pid of the supervisor's zygote (its child running `supervisor.sandbox.zygote`)."""
    for child in psutil.Process(svc.procs["supervisor"].pid).children():
        try:
            if "supervisor.sandbox.zygote" in " ".join(child.cmdline()) and child.status() != psutil.STATUS_ZOMBIE:
                return child.pid
        except psutil.NoSuchProcess:
            pass
    return None


def in_flight(svc: Service) -> int:
    counters = svc.get("/readyz", timeout=5).json()["counters"]
    return counters.get("spawn_requested", 0) - counters.get("spawned", 0)


def idle(svc: Service) -> int:
    return int(svc.get("/readyz", timeout=5).json().get("idle", 0))


def test_the_pool_refills_when_the_zygote_dies_with_spawns_in_flight() -> None:
    with running_service(REPL_POOL_SIZE=POOL_SIZE) as svc:
        sid = f"z-{uuid.uuid4().hex[:12]}"
        svc.write(sid, "a.txt", "a")
        wait_for(lambda: idle(svc) == POOL_SIZE, timeout=30)
        zygote = zygote_of(svc)
        assert zygote is not None
        os.kill(zygote, signal.SIGSTOP)  # it takes no more spawn requests
        jobs = [threading.Thread(target=lambda: svc.post("/run", {"id": sid, "cmd": "sleep 3"}, timeout=60))
                for _ in range(2 * POOL_SIZE)]
        try:
            for job in jobs:  # half of them queue, and the pool asks for sandboxes to run them
                job.start()
            wait_for(lambda: in_flight(svc) >= POOL_SIZE, timeout=30)
        finally:
            os.kill(zygote, signal.SIGKILL)
        for job in jobs:
            job.join()
        wait_for(lambda: zygote_of(svc) not in (None, zygote), timeout=30)
        # Sandboxes are reused: those made for the queued jobs stay, so there may be more.
        wait_for(lambda: idle(svc) >= POOL_SIZE, timeout=30)
        status = svc.get("/readyz").json()
        assert status["counters"]["zygote_restarts"] == 1
        for _ in range(POOL_SIZE + 2):  # more jobs than the pool holds: replacements keep coming
            assert svc.run(sid, "cat a.txt")["stdout"] == "a"
        wait_for(lambda: idle(svc) >= POOL_SIZE, timeout=30)
