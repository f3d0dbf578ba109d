"""A 503 means "not executed", always; a job that may have run is answered 504.

Against the real processes, with one sandbox and a short queue wait so that the
cases are quick to bring about:

- a job that waits in the queue past its start-by time is answered 503 with Retry-After
  and never runs, not even when a sandbox frees up later;
- a job whose sandbox dies under it is answered 504 (outcome unknown), without Retry-After;
- a job sent to a supervisor that never answers is answered 504 by the web tier, after
  the start-by time plus the job's budget, never 503.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Callable, Iterator

import psutil
import pytest

from protocol import settings
from protocol.budget import rpc_timeout
from protocol.models import RunRequest
from tests.lifecycle.conftest import running_service, wait_for
from tests.lifecycle.test_restarts import in_background
from tests.support.service import Service

QUEUE_WAIT = 2.0
BLOCKER_SECONDS = 21  # longer than the old 18 s web-side timeout of a queued 1 s command


@pytest.fixture(scope="module")
def svc() -> Iterator[Service]:
    with running_service(REPL_POOL_SIZE=1, REPL_MAX_CONCURRENT_JOBS=1, REPL_MAX_QUEUE_WAIT=QUEUE_WAIT) as service:
        yield service


@pytest.fixture
def sid(svc: Service) -> str:
    session = f"o-{uuid.uuid4().hex[:12]}"
    svc.write(session, "a.txt", "a")
    return session


def busy(svc: Service) -> int:
    return int(svc.get("/readyz", timeout=5).json().get("busy", 0))


def sandbox_running(svc: Service, marker: str) -> int:
    """The pid of the sandbox (the zygote's child) whose job's command line holds `marker`."""
    zygote = next(p for p in psutil.Process(svc.procs["supervisor"].pid).children()
                  if "supervisor.sandbox.zygote" in " ".join(p.cmdline()))
    for sandbox in zygote.children():
        for process in sandbox.children(recursive=True):
            try:
                if marker in " ".join(process.cmdline()):
                    return sandbox.pid
            except psutil.NoSuchProcess:
                pass
    raise LookupError(marker)


def found(lookup: Callable[[], int]) -> bool:
    try:
        return bool(lookup())
    except (LookupError, StopIteration, psutil.NoSuchProcess):
        return False


def test_a_job_not_started_by_its_start_by_time_gets_503_and_never_runs(svc: Service, sid: str) -> None:
    blocker, blocked = in_background(lambda: svc.run(sid, f"sleep {BLOCKER_SECONDS}", timeout=BLOCKER_SECONDS + 5))
    wait_for(lambda: busy(svc) == 1, timeout=10)
    started = time.monotonic()
    queued = svc.post("/run", {"id": sid, "cmd": "touch ran-late", "timeout": 1})
    answered_after = time.monotonic() - started
    assert queued.status_code == 503, queued.text
    assert queued.headers.get("Retry-After")
    blocker.join(BLOCKER_SECONDS + 30)
    assert "error" not in blocked, blocked
    wait_for(lambda: busy(svc) == 0, timeout=10)
    time.sleep(1)  # a job dispatched after the blocker would have run by now
    assert svc.run(sid, "ls")["stdout"].split() == ["a.txt"], "the job answered 503 ran later"
    assert "not started" in queued.json()["detail"]
    assert answered_after < QUEUE_WAIT + 2, answered_after


def test_a_job_whose_sandbox_dies_gets_504(svc: Service, sid: str) -> None:
    job, result = in_background(svc.post, "/run", {"id": sid, "cmd": "sleep 31.5", "timeout": 40})
    wait_for(lambda: busy(svc) == 1, timeout=10)
    wait_for(lambda: found(lambda: sandbox_running(svc, "sleep 31.5")), timeout=10)
    os.kill(sandbox_running(svc, "sleep 31.5"), signal.SIGKILL)
    job.join(30)
    response = result["value"]
    assert response.status_code == 504, response.text
    assert "Retry-After" not in response.headers
    assert "may have run" in response.json()["detail"]
    assert svc.run(sid, "cat a.txt")["stdout"] == "a"  # the pool carries on


def test_a_sent_request_without_an_answer_gets_504_not_503(svc: Service, sid: str) -> None:
    limit = rpc_timeout("run", RunRequest(id=sid, cmd="true", timeout=1), settings.load(svc.env))
    supervisor = svc.procs["supervisor"].pid
    os.kill(supervisor, signal.SIGSTOP)  # connected, takes the request, never answers
    try:
        started = time.monotonic()
        response = svc.post("/run", {"id": sid, "cmd": "true", "timeout": 1})
        waited = time.monotonic() - started
    finally:
        os.kill(supervisor, signal.SIGCONT)
    assert response.status_code == 504, response.text
    assert "Retry-After" not in response.headers
    assert limit - 0.5 <= waited <= limit + 3, (waited, limit)
    assert limit > QUEUE_WAIT + 1 + 2  # after start-by plus the budget and its backstop
    wait_for(lambda: svc.get("/readyz").status_code == 200, timeout=10)


def test_jobs_still_queued_when_the_drain_ends_get_503_and_never_run() -> None:
    """SIGTERM, and more queued work than the drain has time for: what never started is
    answered "not executed", and indeed never runs."""
    jobs = 6
    with running_service(REPL_POOL_SIZE=1, REPL_MAX_CONCURRENT_JOBS=1, REPL_MAX_RUN_TIMEOUT=2,
                         REPL_MAX_QUEUE_WAIT=60) as service:
        sid = f"d-{uuid.uuid4().hex[:12]}"
        service.write(sid, "log", "")
        running = [in_background(service.post, "/run", {"id": sid, "cmd": f"echo {n} >> log; sleep 1.5", "timeout": 2})
                   for n in range(jobs)]
        wait_for(lambda: int(service.get("/readyz").json().get("queued", 0)) == jobs - 1, timeout=10)
        os.kill(service.procs["supervisor"].pid, signal.SIGTERM)
        statuses = {}
        for n, (thread, result) in enumerate(running):
            thread.join(30)
            statuses[n] = result["value"].status_code
        assert service.procs["supervisor"].wait(15) == 0
        ran = {int(line) for line in (service.session_root / sid / "log").read_text().split()}
        assert set(statuses.values()) <= {200, 503, 504}, statuses
        refused = {n for n, status in statuses.items() if status == 503}
        assert refused, statuses  # the drain (REPL_MAX_RUN_TIMEOUT + 5 s) cannot run them all
        assert not refused & ran, (statuses, ran)
        assert {n for n, status in statuses.items() if status == 200} <= ran
