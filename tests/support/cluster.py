"""Start several supervisors and one web tier on this machine, over `tcp://` with
CurveZMQ keys: each supervisor with its own session root, port and (small) pool. The
processes are the Procfile's, as in `tests.support.service`; nothing is mocked."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from supervisor import keys
from tests.support.service import CANARY, ROOT, Service, free_port, procfile, sandbox_uid


@dataclass
class Cluster(Service):
    """A web tier in `procs["web"]` and supervisors `procs["supervisor-<i>"]`."""

    endpoints: list[str] = field(default_factory=list)
    keys_dir: Path = Path()
    sandbox_uids: list[str] = field(default_factory=list)  # each supervisor's own

    def root_of(self, index: int) -> Path:
        return self.workdir / f"supervisor-{index}" / "sessions"

    def supervisor_env(self, index: int) -> dict[str, str]:
        return {**self.env, "REPL_SUPERVISOR_ENDPOINT": self.endpoints[index],
                "REPL_SESSION_ROOT": str(self.root_of(index)), "REPL_SANDBOX_UID": self.sandbox_uids[index]}

    def start_supervisor(self, index: int) -> subprocess.Popen:
        name = f"supervisor-{index}"
        log = open(self.workdir / f"{name}.log", "ab")
        proc = subprocess.Popen(shlex.split(procfile()["supervisor"]), cwd=ROOT, env=self.supervisor_env(index),
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs[name] = proc
        return proc

    def kill_supervisor(self, index: int) -> None:
        self.stop_process(f"supervisor-{index}", signal.SIGKILL)

    def where(self, session: str) -> list[int]:
        """The supervisors whose session root holds `session`."""
        return [i for i in range(len(self.endpoints)) if (self.root_of(i) / session).is_dir()]


def start_cluster(count: int, extra_env: dict[str, str] | None = None) -> Cluster:
    workdir = Path(tempfile.mkdtemp(prefix="repl-cluster-"))
    keys_dir = workdir / "keys"
    keys.make(str(keys_dir))
    endpoints = [f"tcp://127.0.0.1:{free_port()}" for _ in range(count)]
    env = {
        **os.environ,
        "PORT": str(free_port()),
        "REPL_BIND_HOST": "127.0.0.1",
        "REPL_SUPERVISOR_ENDPOINTS": ",".join(endpoints),
        "REPL_CURVE_SECRET_KEY": str(keys_dir / "server.key_secret"),
        "REPL_CURVE_CLIENTS_DIR": str(keys_dir / "clients"),
        "REPL_CURVE_CLIENT_KEY": str(keys_dir / "web.key_secret"),
        "REPL_CURVE_SERVER_KEY": str(keys_dir / "server.key"),
        "REPL_POOL_SIZE": "1",
        "REPL_WEB_WORKERS": "1",
        "REPL_SESSION_TTL": "0",
        CANARY: "canary-9f2c1e",
        **(extra_env or {}),
    }
    cluster = Cluster(env=env, workdir=workdir, endpoints=endpoints, keys_dir=keys_dir,
                      sandbox_uids=[sandbox_uid() for _ in range(count)])
    for index in range(count):
        cluster.start_supervisor(index)
    cluster.start_process("web")
    try:
        cluster.wait_ready()
    except Exception:
        cluster.stop()
        raise
    return cluster
