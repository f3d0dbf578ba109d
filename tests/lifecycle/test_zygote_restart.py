"""The pool refills after its zygote dies, whatever the zygote was doing.

The zygote is the real process (`python -m supervisor.sandbox.zygote`, the supervisor's
child). Stopping it with SIGSTOP while jobs run leaves the supervisor's requests for
replacement sandboxes unanswered, "in flight"; killing it then is the worst moment for a
restart: the new zygote must be asked for a full pool, not for the pool minus the
requests the dead one never answered.
"""

from __future__ import annotations

import os
import signal
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
        try:
            for _ in range(POOL_SIZE):  # each uses up a sandbox; its replacement is requested
                assert svc.run(sid, "cat a.txt")["stdout"] == "a"
            assert idle(svc) == 0
        finally:
            os.kill(zygote, signal.SIGKILL)
        wait_for(lambda: zygote_of(svc) not in (None, zygote), timeout=30)
        wait_for(lambda: idle(svc) == POOL_SIZE, timeout=30)
        status = svc.get("/readyz").json()
        assert status["counters"]["zygote_restarts"] == 1
        for _ in range(POOL_SIZE + 2):  # more jobs than the pool holds: replacements keep coming
            assert svc.run(sid, "cat a.txt")["stdout"] == "a"
        wait_for(lambda: idle(svc) == POOL_SIZE, timeout=30)
