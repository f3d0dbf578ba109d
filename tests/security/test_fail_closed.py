"""Fail closed (docs/api.md §7.6): when the machine cannot isolate sandboxes the supervisor refuses
to start and says what is missing, unless REPL_INSECURE=1, which it logs loudly and
reports in /readyz.

"Cannot isolate" is made real here by starting the supervisor as root with every
capability dropped (`setpriv --bounding-set -all`), which is what an unprivileged
container gives: uid 0, but no CAP_SYS_ADMIN for namespaces nor CAP_SETUID for the
sandbox uid."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import requests

from supervisor import isolation
from tests.support.service import ROOT, Service, free_port, sandbox_uid

SETPRIV = shutil.which("setpriv")
needs_setpriv = pytest.mark.skipif(SETPRIV is None or os.geteuid() != 0,
                                   reason="needs root and setpriv to take capabilities away")
NO_CAPS = [SETPRIV or "setpriv", "--bounding-set", "-all", "--inh-caps", "-all", "--ambient-caps", "-all", "--"]


def environment(workdir: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "PORT": str(free_port()), "REPL_BIND_HOST": "127.0.0.1",
            "REPL_SESSION_ROOT": str(workdir / "sessions"),
            "REPL_SUPERVISOR_ENDPOINT": f"ipc://{workdir}/supervisor.sock",
            "REPL_POOL_SIZE": "2", "REPL_WEB_WORKERS": "1", **extra}


def start_without_capabilities(workdir: Path, env: dict[str, str]) -> subprocess.Popen:
    with open(workdir / "supervisor.log", "wb") as log:
        return subprocess.Popen(NO_CAPS + [sys.executable, "-m", "supervisor"], cwd=ROOT, env=env,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


@pytest.fixture
def workdir():
    path = Path(tempfile.mkdtemp(prefix="repl-failclosed-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@needs_setpriv
def test_refuses_to_start_without_the_privileges_and_says_what_is_missing(workdir: Path):
    proc = start_without_capabilities(workdir, environment(workdir))
    try:
        code = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    log = (workdir / "supervisor.log").read_text()
    assert code == 3, log
    assert "refusing to start" in log and "cannot isolate sandboxes" in log, log
    assert "namespaces" in log and "CAP_SYS_ADMIN" in log, log
    assert "REPL_INSECURE=1" in log, "the message should name the way out"
    assert not (workdir / "supervisor.sock").exists()


@needs_setpriv
def test_insecure_mode_starts_loudly_and_readiness_says_so(workdir: Path):
    env = environment(workdir, REPL_INSECURE="1")
    supervisor = start_without_capabilities(workdir, env)
    with open(workdir / "web.log", "wb") as web_log:
        web = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "webapp/gunicorn_conf.py",
                                "webapp:create_app()"],
                               cwd=ROOT, env=env, stdout=web_log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline, ready = time.monotonic() + 30, None
        while time.monotonic() < deadline:
            assert supervisor.poll() is None, (workdir / "supervisor.log").read_text()
            try:
                ready = requests.get(f"http://127.0.0.1:{env['PORT']}/readyz", timeout=1)
                if ready.status_code == 200:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.1)
        assert ready is not None and ready.status_code == 200, (workdir / "supervisor.log").read_text()
        assert ready.json()["isolation"] == "insecure", ready.json()
        log = (workdir / "supervisor.log").read_text()
        assert "!!! REPL_INSECURE=1: user code runs WITHOUT isolation" in log, log
        assert "CAP_SYS_ADMIN" in log, "the warning should say what is missing"
        # Several cases (the sandbox's cleaning between them must not touch the host).
        marker = workdir / "host-marker"
        marker.write_text("x")
        body = {"id": "insecure-eval", "code": "def f(x):\n    return x + 1", "entry_point": "f",
                "io_cases": [{"input": str(i), "output": str(i + 1)} for i in range(3)]}
        result = requests.post(f"http://127.0.0.1:{env['PORT']}/evaluate_code", json=body, timeout=30)
        assert result.status_code == 200 and result.json()["passed"], (
            result.text, (workdir / "supervisor.log").read_text()[-3000:])
        assert marker.read_text() == "x"
        # Program cases too: a Python program from the warm fork and a command.
        program = {"id": "insecure-program", "code": "print(int(input()) + 1)",
                   "io_cases": [{"stdin": str(i), "stdout": str(i + 1)} for i in range(3)]}
        for extra in ({}, {"cmd": "python3 $PROGRAM"}):
            result = requests.post(f"http://127.0.0.1:{env['PORT']}/evaluate_code", json={**program, **extra},
                                   timeout=30)
            assert result.status_code == 200 and result.json()["passed"], (extra, result.text)
        # A command in a session of its own.
        url = f"http://127.0.0.1:{env['PORT']}"
        wrote = requests.post(f"{url}/write_file", json={"id": "insecure-run", "rel_path": "a.txt", "content": "hi"},
                              timeout=30)
        assert wrote.status_code == 200, wrote.text
        ran = requests.post(f"{url}/run", json={"id": "insecure-run", "cmd": "cat a.txt"}, timeout=30)
        assert ran.status_code == 200 and ran.json()["stdout"] == "hi", ran.text
    finally:
        for proc in (web, supervisor):
            if proc.poll() is None:
                os.killpg(proc.pid, 15)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, 9)
                    proc.wait()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run user code as the sandbox uid")
def test_insecure_mode_refuses_a_session_root_the_sandbox_user_cannot_reach(workdir: Path):
    """Without namespaces user code works in the session directories where they lie: as
    root, the supervisor runs it as the sandbox uid, which must be able to enter every
    directory above them (else every command and case would end before it started)."""
    env = environment(workdir, REPL_INSECURE="1", REPL_SANDBOX_UID=sandbox_uid())
    os.chmod(workdir, 0o700)
    refused = subprocess.run([sys.executable, "-m", "supervisor"], cwd=ROOT, env=env, capture_output=True,
                             text=True, timeout=60)
    output = refused.stdout + refused.stderr
    assert refused.returncode == 2, output
    assert f"may not enter {workdir} (mode 700)" in output and "REPL_SESSION_ROOT" in output, output

    os.chmod(workdir, 0o755)  # the same root, reachable: it starts
    with open(workdir / "supervisor.log", "wb") as log:
        started = subprocess.Popen([sys.executable, "-m", "supervisor"], cwd=ROOT, env=env, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while "supervisor ready" not in (workdir / "supervisor.log").read_text() and time.monotonic() < deadline:
            assert started.poll() is None, (workdir / "supervisor.log").read_text()
            time.sleep(0.1)
        assert "supervisor ready" in (workdir / "supervisor.log").read_text()
    finally:
        os.killpg(started.pid, 15)
        started.wait(timeout=30)


def test_a_capable_machine_reports_namespaces(service: Service):
    ready = service.get("/readyz").json()
    if os.geteuid() == 0:
        assert ready["isolation"] == "namespaces", ready
    assert ready["limits_mode"] in ("cgroup-v1", "cgroup-v2", "rlimits"), ready


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to become another user")
def test_a_non_root_supervisor_is_told_it_needs_root():
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read_end)
            os.setresgid(65534, 65534, 65534)
            os.setresuid(65534, 65534, 65534)
            os.write(write_end, isolation._missing(60000).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    message = os.read(read_end, 4096).decode()
    os.close(read_end)
    os.waitpid(pid, 0)
    assert "root privileges" in message and "uid 65534" in message, message
