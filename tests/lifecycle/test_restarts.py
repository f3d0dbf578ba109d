"""Restarts and shutdowns of the two processes, against the real processes.

- Sessions survive a restart of the web workers and of the supervisor (SIGTERM or kill -9).
- With the supervisor killed, a request in flight gets 504 (it may have run; a read,
  which changes nothing, 503) and new requests get 503 with Retry-After, within 1 s;
  when it is started again the web tier reconnects by itself within 5 s.
- SIGTERM drains in-flight requests in both processes.
- A second supervisor on the same endpoint or session root refuses to start.
"""

from __future__ import annotations

import base64
import os
import shlex
import signal
import subprocess
import threading
import time
import uuid
from typing import Any

import psutil
import pytest
import requests

from tests.lifecycle.conftest import (
    alive,
    descendants,
    running_service,
    snapshot,
    wait_for,
)
from tests.support.service import ROOT, Service, procfile

UNAVAILABLE_WITHIN = 1.0
RECONNECT_WITHIN = 5.0


def populate(svc: Service) -> dict[str, dict[str, str]]:
    """Two sessions with text, nested, binary and command-made files; their snapshots."""
    sessions = {}
    for _ in range(2):
        sid = f"r-{uuid.uuid4().hex[:12]}"
        svc.write(sid, "main.py", "print('hello')\n")
        svc.write(sid, "deep/er/notes.txt", "nested\n")
        binary = svc.post("/write_file", {"id": sid, "rel_path": "blob.bin", "encoding": "base64",
                                          "content": base64.b64encode(bytes(range(256))).decode()})
        assert binary.status_code == 200, binary.text
        assert svc.run(sid, "python3 main.py > out.txt && ln -s main.py link")["exit_code"] == 0
        sessions[sid] = snapshot(svc, sid)
    return sessions


def assert_intact(svc: Service, sessions: dict[str, dict[str, str]]) -> None:
    for sid, files in sessions.items():
        assert snapshot(svc, sid) == files
        assert svc.run(sid, "cat out.txt")["stdout"] == "hello\n"


def in_background(fn: Any, *args: Any) -> tuple[threading.Thread, dict[str, Any]]:
    """Run `fn(*args)` in a thread; the result dict gets `value` (or `error`) and `seconds`."""
    result: dict[str, Any] = {}

    def target() -> None:
        started = time.monotonic()
        try:
            result["value"] = fn(*args)
        except Exception as exc:  # noqa: BLE001 - reported by the test
            result["error"] = exc
        result["seconds"] = time.monotonic() - started

    thread = threading.Thread(target=target)
    thread.start()
    return thread, result


# --- sessions survive restarts ---------------------------------------------------------------

def test_sessions_survive_a_restart_of_the_web_tier() -> None:
    with running_service() as svc:
        sessions = populate(svc)
        assert svc.stop_process("web") == 0
        svc.start_process("web")
        svc.wait_ready()
        assert_intact(svc, sessions)

        # A worker killed outright is replaced by gunicorn; sessions are untouched.
        workers = psutil.Process(svc.procs["web"].pid).children()
        os.kill(workers[0].pid, signal.SIGKILL)
        wait_for(lambda: len([p for p in psutil.Process(svc.procs["web"].pid).children()
                              if p.pid != workers[0].pid and p.status() != psutil.STATUS_ZOMBIE]) == len(workers),
                 timeout=10)
        for _ in range(10):  # both workers answer
            assert svc.get("/list_files", params={"id": next(iter(sessions))}).status_code == 200
        assert_intact(svc, sessions)


@pytest.mark.parametrize("how", ["sigterm", "sigkill"])
def test_sessions_survive_a_restart_of_the_supervisor(how: str) -> None:
    with running_service() as svc:
        sessions = populate(svc)
        supervisor = svc.procs["supervisor"]
        if how == "sigterm":
            assert svc.stop_process("supervisor") == 0
        else:
            os.kill(supervisor.pid, signal.SIGKILL)
            supervisor.wait(10)
        svc.start_process("supervisor")
        svc.wait_ready()
        assert_intact(svc, sessions)
        # Still writable, forkable, deletable.
        sid = next(iter(sessions))
        svc.write(sid, "after.txt", "after\n")
        fork = svc.post("/fork_session", {"id": sid})
        assert fork.status_code == 200
        assert snapshot(svc, fork.json()["new_id"]) == {**sessions[sid], "after.txt": snapshot(svc, sid)["after.txt"]}


# --- the supervisor killed: fast 503s, then reconnection ------------------------------------

def test_supervisor_killed_gives_fast_503s_and_the_web_tier_reconnects() -> None:
    with running_service() as svc:
        sessions = populate(svc)
        sid = next(iter(sessions))
        supervisor = svc.procs["supervisor"]
        helpers = descendants(supervisor.pid)  # the zygote and its sandboxes
        assert helpers

        job, result = in_background(svc.post, "/run", {"id": sid, "cmd": "sleep 5; echo too-late"})
        time.sleep(0.7)
        os.kill(supervisor.pid, signal.SIGKILL)  # kill -9, the supervisor alone
        killed_at = time.monotonic()
        supervisor.wait(10)

        # The request in flight fails fast, as "outcome unknown": it had started, so it
        # may have run, and a 503 (never run: retry) would be a lie.
        job.join(10)
        assert "error" not in result, result
        assert time.monotonic() - killed_at < UNAVAILABLE_WITHIN + 0.5
        assert result["value"].status_code == 504
        assert "Retry-After" not in result["value"].headers

        # New requests of every kind: 503 with Retry-After, within 1 s, never a hang.
        calls: list[tuple[str, str, dict[str, Any]]] = [
            ("GET", "/read_file", {"params": {"id": sid, "rel_path": "main.py"}}),
            ("POST", "/write_file", {"json": {"id": sid, "rel_path": "x.txt", "content": "x"}}),
            ("POST", "/run", {"json": {"id": sid, "cmd": "true"}}),
            ("POST", "/evaluate_code", {"json": {"id": sid, "code": "def f(): return 1", "entry_point": "f",
                                                 "io_cases": [{"input": "", "output": "1"}]}}),
            ("GET", "/list_files", {"params": {"id": sid}}),
        ]
        for method, path, kwargs in calls * 2:
            started = time.monotonic()
            response = requests.request(method, svc.url + path, timeout=10, **kwargs)
            elapsed = time.monotonic() - started
            assert response.status_code == 503, (path, response.text)
            assert response.headers.get("Retry-After"), path
            assert "supervisor" in response.json()["detail"]
            assert elapsed < UNAVAILABLE_WITHIN, (path, elapsed)
        readyz = svc.get("/readyz", timeout=5)
        assert readyz.status_code == 503 and readyz.headers.get("Retry-After")
        assert svc.get("/healthz").status_code == 200  # the web process itself is fine
        assert svc.get("/").json() == "ping"

        # Nothing of the killed supervisor is left running (the zygote and sandboxes die with it).
        wait_for(lambda: not alive(helpers), timeout=5)

        # Started again: the web tier reconnects by itself, every worker, every file is there.
        svc.start_process("supervisor")
        wait_for(lambda: svc.log("supervisor").count("supervisor ready") == 2, timeout=30)
        back_at = time.monotonic()
        wait_for(lambda: svc.get("/read_file", params={"id": sid, "rel_path": "main.py"}).status_code == 200,
                 timeout=RECONNECT_WITHIN + 5)
        assert time.monotonic() - back_at < RECONNECT_WITHIN
        for _ in range(20):  # requests land on every worker and thread: all reconnected
            listing = svc.get("/list_files", params={"id": sid})
            assert listing.status_code == 200, listing.text
        assert svc.get("/readyz").status_code == 200
        assert_intact(svc, sessions)



def test_a_read_the_supervisor_took_and_never_answered_is_503_a_write_504() -> None:
    """The supervisor stopped (SIGSTOP) takes both requests off the connection, then dies:
    the read changed nothing whether it ran or not, so it is "not executed, retry" (503);
    the write may have run (504).

    One web worker of two threads, both connected first (each thread has its own
    connection): a thread connecting while the supervisor is stopped cannot, and answers
    503 having sent nothing, which is right but not what this test is about."""
    with running_service(REPL_WEB_WORKERS=1, REPL_WEB_THREADS=2) as svc:
        sessions = populate(svc)
        sid = next(iter(sessions))
        warming = [in_background(svc.post, "/run", {"id": sid, "cmd": "sleep 0.3"}) for _ in range(2)]
        for thread, result in warming:
            thread.join(10)
            assert result["value"].status_code == 200, result
        supervisor = svc.procs["supervisor"]
        os.kill(supervisor.pid, signal.SIGSTOP)
        try:
            read, read_result = in_background(lambda: svc.get("/read_file", params={"id": sid, "rel_path": "main.py"}))
            write, write_result = in_background(svc.post, "/write_file",
                                                {"id": sid, "rel_path": "late.txt", "content": "x"})
            time.sleep(1.0)  # both sent: the connection stays up while the supervisor is stopped
        finally:
            os.kill(supervisor.pid, signal.SIGKILL)
        supervisor.wait(10)
        read.join(10)
        write.join(10)
        assert "error" not in read_result and "error" not in write_result, (read_result, write_result)
        assert read_result["value"].status_code == 503, read_result["value"].text
        assert read_result["value"].headers.get("Retry-After")
        assert write_result["value"].status_code == 504, write_result["value"].text


# --- SIGTERM drains ----------------------------------------------------------------------------

@pytest.mark.parametrize("target", ["process", "group"])
def test_sigterm_drains_the_supervisor(target: str) -> None:
    """`process`: SIGTERM to the supervisor alone (systemd KillMode=mixed, docker stop).
    `group`: to its whole process group (Ctrl-C, honcho): the sandboxes must not get it."""
    with running_service() as svc:
        sid = f"d-{uuid.uuid4().hex[:12]}"
        svc.write(sid, "a.txt", "a\n")
        supervisor = svc.procs["supervisor"]
        job, result = in_background(svc.post, "/run", {"id": sid, "cmd": "sleep 2; cat a.txt; echo done"})
        time.sleep(0.7)
        if target == "process":
            os.kill(supervisor.pid, signal.SIGTERM)
        else:
            os.killpg(supervisor.pid, signal.SIGTERM)

        # While draining it takes no new job: 503 at once, with Retry-After.
        wait_for(lambda: "stopping" in svc.log("supervisor"), timeout=5)
        started = time.monotonic()
        refused = svc.post("/run", {"id": sid, "cmd": "true"}, timeout=10)
        assert refused.status_code == 503 and refused.headers.get("Retry-After"), refused.text
        assert time.monotonic() - started < UNAVAILABLE_WITHIN

        job.join(30)
        assert "error" not in result, result
        response = result["value"]
        assert response.status_code == 200, response.text
        assert response.json()["stdout"] == "a\ndone\n"
        assert response.json()["exit_code"] == 0
        assert supervisor.wait(10) == 0


def test_sigterm_drains_the_web_tier() -> None:
    """gunicorn's graceful shutdown: requests in flight are answered, then it exits."""
    with running_service() as svc:
        sid = f"d-{uuid.uuid4().hex[:12]}"
        svc.write(sid, "a.txt", "a\n")
        web = svc.procs["web"]
        jobs = [in_background(svc.post, "/run", {"id": sid, "cmd": f"sleep 2; echo {i}"}) for i in range(3)]
        time.sleep(0.7)
        os.kill(web.pid, signal.SIGTERM)  # the gunicorn master, as systemd KillMode=mixed does
        for i, (job, result) in enumerate(jobs):
            job.join(30)
            assert "error" not in result, result
            assert result["value"].status_code == 200, result["value"].text
            assert result["value"].json()["stdout"] == f"{i}\n"
        assert web.wait(15) == 0
        # The supervisor was not involved: a new web tier serves the same sessions at once.
        svc.start_process("web")
        svc.wait_ready()
        assert svc.get("/read_file", params={"id": sid, "rel_path": "a.txt"}).json()["content"] == "a\n"


# --- one supervisor per endpoint and session root ---------------------------------------------

@pytest.mark.parametrize("shared", ["both", "endpoint", "session_root"])
def test_a_second_supervisor_refuses_to_start(shared: str) -> None:
    with running_service() as svc:
        env = dict(svc.env)
        if shared == "endpoint":
            env["REPL_SESSION_ROOT"] = str(svc.workdir / "other-sessions")
        elif shared == "session_root":
            env["REPL_SUPERVISOR_ENDPOINT"] = f"ipc://{svc.workdir}/other.sock"
        second = subprocess.run(shlex.split(procfile()["supervisor"]), cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=30, check=False)
        assert second.returncode != 0
        assert "refusing to start: another supervisor is already running" in second.stderr, second.stderr
        # The first one is unharmed, its socket still bound.
        assert svc.procs["supervisor"].poll() is None
        assert svc.get("/readyz").status_code == 200
        sid = f"s-{uuid.uuid4().hex[:12]}"
        svc.write(sid, "a.txt", "a")
        assert svc.run(sid, "cat a.txt")["stdout"] == "a"
