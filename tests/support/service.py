"""Start the real service for tests: both Procfile processes, on a free port, with a
temporary session root and ZeroMQ endpoint. No part of it is mocked."""

from __future__ import annotations

import os
import random
import shlex
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[2]
CANARY = "REPL_TEST_CANARY_SECRET"  # set on both processes; sandboxed code must never see it


def procfile() -> dict[str, str]:
    commands = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if ":" in line and not line.startswith("#"):
            name, command = line.split(":", 1)
            commands[name.strip()] = command.strip()
    return commands


def sandbox_uid() -> str:
    """A `REPL_SANDBOX_UID` for one supervisor. Each needs its own (it and the template uid
    after it; a supervisor refuses to start while another process holds either), and tests
    start several at once, beside other runs on the same machine."""
    return str(random.SystemRandom().randrange(200_000, 2_000_000_000, 2))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Service:
    """A running web + supervisor pair."""

    env: dict[str, str]
    workdir: Path
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.env['PORT']}"

    @property
    def session_root(self) -> Path:
        return Path(self.env["REPL_SESSION_ROOT"])

    @property
    def sandbox_uid(self) -> int:
        return int(self.env["REPL_SANDBOX_UID"])

    @property
    def token(self) -> str | None:
        return self.env.get("REPL_API_TOKEN") or None

    def start_process(self, name: str) -> subprocess.Popen:
        log = open(self.workdir / f"{name}.log", "ab")
        proc = subprocess.Popen(shlex.split(procfile()[name]), cwd=ROOT, env=self.env,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs[name] = proc
        return proc

    def log(self, name: str) -> str:
        path = self.workdir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with {proc.returncode}:\n{self.log(name)}")
            try:
                if requests.get(self.url + "/readyz", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"service not ready after {timeout}s:\n{self.log('supervisor')}\n{self.log('web')}")

    def stop_process(self, name: str, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int | None:
        proc = self.procs.get(name)
        if proc is None or proc.poll() is not None:
            return None if proc is None else proc.returncode
        os.killpg(proc.pid, sig)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            return proc.wait()

    def stop(self) -> None:
        for name in list(self.procs):
            self.stop_process(name)

    # --- HTTP helpers ----------------------------------------------------------------------

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def post(self, path: str, body: Any = None, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 60)
        return requests.post(self.url + path, json=body, headers=self.headers(), **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 60)
        return requests.get(self.url + path, headers=self.headers(), **kwargs)

    def run(self, session: str, cmd: str, **extra: Any) -> dict[str, Any]:
        response = self.post("/run", {"id": session, "cmd": cmd, **extra})
        assert response.status_code == 200, response.text
        return response.json()

    def evaluate(self, code: str, entry_point: str, cases: list[tuple[str, str]], session: str = "scratch-x",
                 **extra: Any) -> dict[str, Any]:
        body = {"id": session, "code": code, "entry_point": entry_point,
                "io_cases": [{"input": i, "output": o} for i, o in cases], **extra}
        response = self.post("/evaluate_code", body)
        assert response.status_code == 200, response.text
        return response.json()

    def write(self, session: str, rel_path: str, content: str) -> None:
        response = self.post("/write_file", {"id": session, "rel_path": rel_path, "content": content})
        assert response.status_code == 200, response.text


def start_service(extra_env: dict[str, str] | None = None, workdir: Path | None = None) -> Service:
    workdir = workdir or Path(tempfile.mkdtemp(prefix="repl-test-"))
    env = {
        **os.environ,
        "PORT": str(free_port()),
        "REPL_BIND_HOST": "127.0.0.1",
        "REPL_SESSION_ROOT": str(workdir / "sessions"),
        "REPL_SUPERVISOR_ENDPOINT": f"ipc://{workdir}/supervisor.sock",
        "REPL_POOL_SIZE": "4",
        "REPL_WEB_WORKERS": "2",
        "REPL_SESSION_TTL": "0",
        "REPL_SANDBOX_UID": sandbox_uid(),
        CANARY: "canary-9f2c1e",
        **(extra_env or {}),
    }
    service = Service(env=env, workdir=workdir)
    service.start_process("supervisor")
    service.start_process("web")
    try:
        service.wait_ready()
    except Exception:
        service.stop()
        raise
    return service
