"""Idle sessions are removed by the supervisor after REPL_SESSION_TTL seconds; a session in
use (by requests or by a running job) is not; idle time is kept across restarts."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from supervisor.server import SWEEP_MAX_INTERVAL, SWEEP_MIN_INTERVAL, sweep_interval
from tests.lifecycle.conftest import running_service, wait_for
from tests.support.service import Service

TTL = 2.0


@pytest.fixture(scope="module")
def ttl_service() -> Iterator[Service]:
    with running_service(REPL_SESSION_TTL=TTL) as svc:
        yield svc


def new_session(svc: Service) -> str:
    sid = f"ttl-{uuid.uuid4().hex[:12]}"
    svc.write(sid, "keep.txt", "data\n")
    return sid


def test_sweep_interval_follows_the_ttl() -> None:
    assert sweep_interval(0) is None  # 0 keeps sessions forever
    assert sweep_interval(2) == SWEEP_MIN_INTERVAL == 0.5
    assert sweep_interval(0.1) == SWEEP_MIN_INTERVAL
    assert sweep_interval(40) == 10
    assert sweep_interval(86400) == SWEEP_MAX_INTERVAL == 60


def test_an_idle_session_is_removed_after_the_ttl(ttl_service: Service) -> None:
    sid = new_session(ttl_service)
    directory = ttl_service.session_root / sid
    started = time.monotonic()
    # Watched on disk: any request would count as a use and keep the session.
    gone_after = wait_for(lambda: not directory.exists(), timeout=TTL + 4)
    assert time.monotonic() - started >= TTL - 0.5, "removed before its TTL"
    assert gone_after <= TTL + SWEEP_MIN_INTERVAL + 2
    assert ttl_service.get("/list_files", params={"id": sid}).status_code == 404
    run = ttl_service.post("/run", {"id": sid, "cmd": "true"})
    assert (run.status_code, run.json()) == (400, {"detail": "Session does not exist"})


def test_a_session_in_use_by_requests_is_kept(ttl_service: Service) -> None:
    sid = new_session(ttl_service)
    until = time.monotonic() + 2.5 * TTL
    while time.monotonic() < until:
        read = ttl_service.get("/read_file", params={"id": sid, "rel_path": "keep.txt"})
        assert read.status_code == 200, read.text
        time.sleep(TTL / 4)


def test_a_session_with_a_running_job_is_never_removed(ttl_service: Service) -> None:
    sid = new_session(ttl_service)
    directory = ttl_service.session_root / sid
    result: dict[str, Any] = {}
    job = threading.Thread(target=lambda: result.update(
        ttl_service.run(sid, f"sleep {2 * TTL + 1}; ls; echo done")))
    job.start()
    while job.is_alive():
        assert directory.exists(), "a session was removed while a job of its ran"
        time.sleep(0.1)
    job.join()
    assert result["exit_code"] == 0
    assert result["stdout"].split() == ["keep.txt", "done"]
    # The end of the job is a use: the session's idle time starts now, not at the job's start.
    assert directory.exists()
    time.sleep(TTL / 2)
    assert directory.exists()
    wait_for(lambda: not directory.exists(), timeout=TTL + 4)


def test_a_queued_job_counts_as_use() -> None:
    """Jobs waiting for a sandbox keep their session too (pool of 1, one job at a time)."""
    with running_service(REPL_SESSION_TTL=TTL, REPL_POOL_SIZE=1, REPL_MAX_CONCURRENT_JOBS=1) as svc:
        blocker, waiting = new_session(svc), new_session(svc)
        results: dict[str, dict[str, Any]] = {}
        threads = [threading.Thread(target=lambda s=s, c=c: results.update({s: svc.run(s, c)}))
                   for s, c in ((blocker, f"sleep {TTL + 2}"), (waiting, "cat keep.txt"))]
        threads[0].start()
        time.sleep(0.5)
        threads[1].start()
        for thread in threads:
            thread.join()
        assert results[blocker]["exit_code"] == 0
        assert results[waiting]["stdout"] == "data\n"


def test_idle_time_survives_a_supervisor_restart() -> None:
    """The last use is the session directory's mtime: a session that went idle before a
    restart is removed by the new supervisor once its TTL has passed."""
    with running_service(REPL_SESSION_TTL=TTL) as svc:
        sid = new_session(svc)
        assert svc.stop_process("supervisor") == 0
        time.sleep(TTL + 0.5)
        assert (svc.session_root / sid).exists()  # nobody removes sessions while it is down
        svc.start_process("supervisor")
        svc.wait_ready()
        wait_for(lambda: not (svc.session_root / sid).exists(), timeout=SWEEP_MIN_INTERVAL + 3)
