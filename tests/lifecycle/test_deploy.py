"""The deployment files (deploy/systemd, deploy/compose.yaml, Dockerfile) against the real
processes: each file's command lines are started as written (the interpreter aside) with
its environment, paths moved into a temporary directory, and must serve, stop cleanly and
agree with the Procfile and the settings. Neither systemd nor a Docker engine is needed;
`systemd-analyze verify` checks the units when it is installed."""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from protocol import settings
from tests.support.service import ROOT, Service, free_port, procfile, sandbox_uid

SYSTEMD = ROOT / "deploy" / "systemd"
COMPOSE = ROOT / "deploy" / "compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
DEFAULTS = settings.load({})
SUPERVISOR_DRAIN = DEFAULTS.max_run_timeout + 5  # supervisor/__main__.py: drain_seconds
WEB_GRACE = DEFAULTS.max_run_timeout + 10        # webapp/gunicorn_conf.py: graceful_timeout


# --- helpers -------------------------------------------------------------------------------

def unit(name: str) -> dict[str, dict[str, list[str]]]:
    """A systemd unit file as {section: {key: [values]}} (keys may repeat)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for line in (SYSTEMD / name).read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
        else:
            key, _, value = line.partition("=")
            current.setdefault(key.strip(), []).append(value.strip())
    return sections


def env_file(path: Path) -> dict[str, str]:
    env = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key] = value
    return env


def program(argv: list[str]) -> list[str]:
    """The program and its arguments, whatever runs it: `python3 -m gunicorn -c x` and
    `gunicorn -c x` are both ["gunicorn", "-c", "x"]."""
    if os.path.basename(argv[0]).startswith("python") and argv[1:2] == ["-m"]:
        return argv[2:]
    return [os.path.basename(argv[0]), *argv[1:]]


def runnable(argv: list[str]) -> list[str]:
    """`argv` with this test's interpreter for the deployment's (`/usr/bin/python3`, `python3`)."""
    if os.path.basename(argv[0]).startswith("python"):
        return [sys.executable, *argv[1:]]
    if argv[0] == "gunicorn":
        return [sys.executable, "-m", "gunicorn", *argv[1:]]
    return argv


def seconds(value: str) -> float:
    match = re.fullmatch(r"(\d+)(s|min)?", value)
    assert match, value
    return int(match.group(1)) * (60 if match.group(2) == "min" else 1)


def procfile_programs() -> dict[str, list[str]]:
    return {name: program(shlex.split(command)) for name, command in procfile().items()}


class Deployment:
    """Processes started from a deployment file's command lines, with Service's helpers."""

    def __init__(self, env: dict[str, str]) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="repl-deploy-"))
        self.paths: dict[str, str] = {}
        # Its own sandbox uid: other supervisors run on this machine meanwhile.
        self.env = {**os.environ, "REPL_SANDBOX_UID": sandbox_uid(), **env}
        self.service = Service(env=self.env, workdir=self.workdir)

    def relocate(self, path: str) -> str:
        """A deployment path (/run/repl, /var/lib/repl/sessions) moved into the workdir."""
        if path not in self.paths:
            self.paths[path] = str(self.workdir / path.strip("/").replace("/", "_"))
            os.makedirs(self.paths[path], exist_ok=True)
        return self.paths[path]

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None, umask: int | None = None,
              wrapper: list[str] | None = None) -> subprocess.Popen:
        with open(self.workdir / f"{name}.log", "ab") as log:
            proc = subprocess.Popen([*(wrapper or []), *runnable(argv)], cwd=ROOT, env={**self.env, **(env or {})},
                                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                    umask=-1 if umask is None else umask)
        self.service.procs[name] = proc
        return proc

    def stop(self) -> None:
        self.service.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


@pytest.fixture
def deployment_factory() -> Iterator[Any]:
    made: list[Deployment] = []

    def make(env: dict[str, str]) -> Deployment:
        made.append(Deployment(env))
        return made[-1]

    yield make
    for deployment in made:
        deployment.stop()


def exercise(svc: Service) -> None:
    """A session made, used by a command, read back."""
    sid = f"deploy-{uuid.uuid4().hex[:12]}"
    svc.write(sid, "hello.py", "print('hello')\n")
    assert svc.run(sid, "python3 hello.py > out.txt && cat out.txt")["stdout"] == "hello\n"
    assert svc.get("/read_file", params={"id": sid, "rel_path": "out.txt"}).json()["content"] == "hello\n"


# --- systemd --------------------------------------------------------------------------------

def test_systemd_units_run_the_two_processes_independently() -> None:
    web, supervisor = unit("repl-web.service"), unit("repl-supervisor.service")
    for name, parsed in (("web", web), ("supervisor", supervisor)):
        service = parsed["Service"]
        assert service["Restart"] == ["always"]
        assert service["EnvironmentFile"] == ["/etc/repl/env"]
        assert service["KillMode"] == ["mixed"]  # SIGTERM to the main process only: it drains
        assert program(shlex.split(service["ExecStart"][0])) == procfile_programs()[name]
        assert parsed["Unit"].get("StartLimitIntervalSec") == ["0"]
        for key in ("Requires", "BindsTo", "PartOf", "Requisite"):  # independent
            assert not any("repl-" in v for v in parsed["Unit"].get(key, [])), key
        assert parsed["Install"]["WantedBy"] == ["multi-user.target"]
    assert web["Service"]["WorkingDirectory"] == supervisor["Service"]["WorkingDirectory"]
    assert not web["Service"]["WorkingDirectory"][0].startswith(("/opt", "/usr", "/etc")), \
        "sandboxes see /opt, /usr and /etc: the service's files must live elsewhere"
    assert supervisor["Service"]["User"] == ["root"]
    assert web["Service"]["User"] != ["root"]
    assert seconds(supervisor["Service"]["TimeoutStopSec"][0]) > SUPERVISOR_DRAIN
    assert seconds(web["Service"]["TimeoutStopSec"][0]) > WEB_GRACE
    # The web tier's group may connect to the socket the supervisor makes in its runtime directory.
    assert supervisor["Service"]["Group"] == web["Service"]["Group"]
    assert supervisor["Service"]["UMask"] == ["0002"]
    endpoint = env_file(SYSTEMD / "env.example")["REPL_SUPERVISOR_ENDPOINT"]
    assert endpoint.startswith("ipc:///run/" + supervisor["Service"]["RuntimeDirectory"][0] + "/")
    assert env_file(SYSTEMD / "env.example")["REPL_SESSION_ROOT"].startswith(
        "/var/lib/" + supervisor["Service"]["StateDirectory"][0] + "/")
    assert all(setting in settings.load(env_file(SYSTEMD / "env.example")).values
               for setting in ("port", "session_root", "supervisor_endpoint"))


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_analyze_accepts_the_units() -> None:
    checked = subprocess.run(["systemd-analyze", "verify", "repl-web.service", "repl-supervisor.service"],
                             cwd=SYSTEMD, capture_output=True, text=True, timeout=60, check=False)
    output = checked.stdout + checked.stderr
    problems = [line for line in output.splitlines() if "repl-" in line]
    assert checked.returncode == 0 and not problems, output


def test_systemd_units_serve_and_stop_cleanly(deployment_factory: Any) -> None:
    """The units' command lines, environment file, umask and stop signal, for real: the
    socket is group-writable for the web tier; gunicorn notifies readiness (Type=notify);
    SIGTERM to each main process (KillMode=mixed) ends both with status 0."""
    web_unit, supervisor_unit = unit("repl-web.service")["Service"], unit("repl-supervisor.service")["Service"]
    env = env_file(SYSTEMD / "env.example")
    deployment = deployment_factory({})
    endpoint_dir = deployment.relocate("/run/repl")
    env.update(PORT=str(free_port()), REPL_BIND_HOST="127.0.0.1", REPL_POOL_SIZE="2",
               REPL_SESSION_ROOT=deployment.relocate("/var/lib/repl") + "/sessions",
               REPL_SUPERVISOR_ENDPOINT=f"ipc://{endpoint_dir}/supervisor.sock",
               REPL_SANDBOX_UID=deployment.env["REPL_SANDBOX_UID"])
    deployment.env.update(env)

    notify_path = str(deployment.workdir / "notify.sock")
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(notify_path)
    notify.settimeout(30)
    supervisor = deployment.start("supervisor", shlex.split(supervisor_unit["ExecStart"][0]),
                                  umask=int(supervisor_unit["UMask"][0], 8))
    web = deployment.start("web", shlex.split(web_unit["ExecStart"][0]), env={"NOTIFY_SOCKET": notify_path})
    try:
        assert b"READY=1" in notify.recv(4096)
    finally:
        notify.close()
    deployment.service.wait_ready()
    mode = os.stat(f"{endpoint_dir}/supervisor.sock").st_mode
    assert stat.S_ISSOCK(mode) and mode & stat.S_IWGRP, oct(mode)
    exercise(deployment.service)

    for proc in (web, supervisor):
        os.kill(proc.pid, signal.Signals[supervisor_unit["KillSignal"][0]])
        assert proc.wait(30) == 0


# --- compose --------------------------------------------------------------------------------

def compose() -> dict[str, Any]:
    yaml = pytest.importorskip("yaml")
    return yaml.safe_load(COMPOSE.read_text())


def interpolated(value: Any, env: dict[str, str]) -> str:
    """A compose value with `${NAME:-default}` replaced as Docker Compose and podman-compose
    replace it, from `env` (the shell that runs them)."""
    return re.sub(r"\$\{([A-Z_]+):-([^}]*)\}", lambda m: env.get(m.group(1)) or m.group(2), str(value))


def test_compose_runs_web_and_supervisor_as_two_services() -> None:
    doc = compose()
    services = doc["services"]
    assert set(services) == {"web", "supervisor"}
    web, supervisor = services["web"], services["supervisor"]
    for name, service in services.items():
        assert program(service["command"]) == procfile_programs()[name]
        assert service["restart"] == "always"
        assert service["image"] == services["web"]["image"]
        assert (COMPOSE.parent / service["build"]["context"] / service["build"]["dockerfile"]).resolve() == DOCKERFILE
        assert "depends_on" not in service  # started, stopped and restarted independently
    assert seconds(supervisor["stop_grace_period"]) > SUPERVISOR_DRAIN
    assert seconds(web["stop_grace_period"]) > WEB_GRACE
    assert supervisor["privileged"] is True

    endpoint = supervisor["environment"]["REPL_SUPERVISOR_ENDPOINT"]
    assert endpoint == web["environment"]["REPL_SUPERVISOR_ENDPOINT"]
    assert endpoint.startswith("ipc://")
    socket_dir = os.path.dirname(endpoint[len("ipc://"):])
    mounts = {name: dict(reversed(v.split(":")[:2]) for v in s["volumes"]) for name, s in services.items()}
    assert mounts["web"][socket_dir] == mounts["supervisor"][socket_dir] in doc["volumes"]
    session_root = supervisor["environment"]["REPL_SESSION_ROOT"]
    assert mounts["supervisor"][session_root] in doc["volumes"]
    assert session_root not in mounts["web"], "the web tier never touches session files"
    for service in services.values():
        settings.load({k: interpolated(v, {}) for k, v in service["environment"].items()})  # valid settings
    # The health checks: shell commands of plain words, which every engine runs alike
    # (podman-compose 1.0.3 wraps even a CMD list in `/bin/sh -c`, and broke quoted code).
    for service in services.values():
        kind, command = service["healthcheck"]["test"]
        assert kind == "CMD-SHELL" and re.fullmatch(r"[\w. -]+", command), command
    # The image declares no volume: the web container gets none it does not use.
    assert not any(i.startswith("VOLUME") for i in dockerfile())


def test_compose_commands_and_health_checks_work(deployment_factory: Any) -> None:
    """Both services' commands with their environments: the web tier without any capability
    (as `cap_drop: [ALL]` + no-new-privileges), each health check passing while its
    process serves, the supervisor's failing once it is gone."""
    services = compose()["services"]
    deployment = deployment_factory({})
    port = str(free_port())

    def environment(service: dict[str, Any]) -> dict[str, str]:
        env = {k: interpolated(v, deployment.env) for k, v in service["environment"].items()}
        env["REPL_SUPERVISOR_ENDPOINT"] = "ipc://" + deployment.relocate("/run/repl") + "/supervisor.sock"
        env["REPL_SESSION_ROOT"] = deployment.relocate("/var/lib/repl/sessions")
        env.update(PORT=port, REPL_BIND_HOST="127.0.0.1", REPL_POOL_SIZE="2")
        return env

    deployment.env.update(environment(services["web"]))  # for the Service helpers
    deployment.start("supervisor", services["supervisor"]["command"], environment(services["supervisor"]))
    drop_all = None
    if os.geteuid() == 0 and shutil.which("setpriv") and services["web"].get("cap_drop") == ["ALL"]:
        drop_all = ["setpriv", "--bounding-set=-all", "--inh-caps=-all", "--no-new-privs"]
    deployment.start("web", services["web"]["command"], environment(services["web"]), wrapper=drop_all)
    deployment.service.wait_ready()
    if drop_all:
        web_status = Path(f"/proc/{deployment.service.procs['web'].pid}/status").read_text()
        assert re.search(r"^CapEff:\s+0+$", web_status, re.MULTILINE), web_status
    exercise(deployment.service)

    def health(name: str) -> int:
        kind, command = services[name]["healthcheck"]["test"]
        assert kind == "CMD-SHELL"
        return subprocess.run(runnable(command.split()), cwd=ROOT, env={**os.environ, **environment(services[name])},
                              capture_output=True, timeout=30, check=False).returncode

    assert health("supervisor") == 0
    assert health("web") == 0
    deployment.service.stop_process("supervisor")
    assert health("supervisor") != 0
    assert health("web") == 0  # the web process is alive; /readyz tells the rest


# --- Dockerfile -----------------------------------------------------------------------------

def dockerfile() -> list[str]:
    """The instructions, continuation lines joined, comments dropped."""
    lines, pending = [], ""
    for raw in DOCKERFILE.read_text().splitlines():
        if raw.lstrip().startswith("#") and not pending:
            continue
        pending += raw.rstrip("\\").strip() + " "
        if not raw.endswith("\\"):
            if pending.strip():
                lines.append(pending.strip())
            pending = ""
    return lines


def test_dockerfile_builds_the_image_the_spec_asks_for() -> None:
    text = DOCKERFILE.read_text()
    instructions = dockerfile()
    assert instructions[0] == "FROM python:3.11-slim-bookworm"
    # No `# syntax=` directive: BuildKit would fetch that frontend image from a registry
    # before building, so the image could not be built offline or behind a mirror.
    assert not re.search(r"^#\s*syntax\s*=", text, re.MULTILINE | re.IGNORECASE)
    assert any(i.startswith("RUN apt-get update") and "swi-prolog-nox" in i for i in instructions)
    assert "RUN pip install -r requirements.txt" in instructions
    assert "EXPOSE 6000" in instructions
    assert instructions[-1] == 'CMD ["./scripts/start.sh"]'
    # How to run it with the privileges namespaces need, in a comment.
    assert "--privileged" in text and "SYS_ADMIN" in text and "seccomp=unconfined" in text
    assert "apparmor=unconfined" in text
    workdir = next(i.split()[1] for i in instructions if i.startswith("WORKDIR"))
    assert not workdir.startswith(("/opt", "/usr", "/etc")), "sandboxes would see the service's files"
    env = dict(re.findall(r"(REPL_[A-Z_]+|PORT)=(\S+)", " ".join(i for i in instructions if i.startswith("ENV"))))
    settings.load(env)
    assert env["PORT"] == "6000"
    # User code runs on a virtualenv of its own with the documented scientific stack.
    assert env["REPL_SANDBOX_PYTHON"] == "/opt/sandbox-python/bin/python3"
    assert any(i.startswith("RUN python3 -m venv /opt/sandbox-python")
               and "/opt/sandbox-python/bin/pip install -r sandbox-requirements.txt" in i for i in instructions)
    stack = {line.split("==")[0] for line in (ROOT / "sandbox-requirements.txt").read_text().splitlines()
             if line and not line.startswith("#")}
    assert {"numpy", "scipy", "pandas", "sympy", "networkx"} <= stack

    # Whatever the image copies exists and is not excluded by .dockerignore.
    ignored = [p.strip() for p in (ROOT / ".dockerignore").read_text().splitlines()
               if p.strip() and not p.startswith("#")]
    needed = ["Procfile", "requirements.txt", "sandbox-requirements.txt", "scripts/start.sh", "webapp/__init__.py",
              "webapp/gunicorn_conf.py", "supervisor/__main__.py", "protocol/settings.py"]
    for path in needed:
        assert (ROOT / path).exists(), path
        assert not any(fnmatch.fnmatch(path, pattern) or fnmatch.fnmatch(path.split("/")[0], pattern)
                       for pattern in ignored), path
    tracked = subprocess.run(["git", "ls-files", "-s", "scripts/start.sh"], cwd=ROOT,
                             capture_output=True, text=True, check=False).stdout
    assert not tracked or tracked.startswith("100755"), "CMD needs scripts/start.sh executable"


def test_the_image_command_runs_both_processes_and_drains_on_docker_stop(deployment_factory: Any) -> None:
    """CMD ./scripts/start.sh with the image's environment; `docker stop` sends SIGTERM to
    it (pid 1, or the child of --init): a /run in flight is answered, then all exit."""
    instructions = dockerfile()
    env = dict(re.findall(r"(REPL_[A-Z_]+|PORT)=(\S+)", " ".join(i for i in instructions if i.startswith("ENV"))))
    deployment = deployment_factory({})
    env.update(PORT=str(free_port()), REPL_BIND_HOST="127.0.0.1", REPL_POOL_SIZE="2",
               REPL_SESSION_ROOT=deployment.relocate(env["REPL_SESSION_ROOT"]),
               REPL_SUPERVISOR_ENDPOINT="ipc://" + deployment.relocate(
                   os.path.dirname(env["REPL_SUPERVISOR_ENDPOINT"][len("ipc://"):])) + "/supervisor.sock")
    # The image's sandbox interpreter, made as the Dockerfile makes it (without its packages),
    # outside /tmp as the supervisor requires.
    venv = Path(tempfile.mkdtemp(prefix="repl-image-python-", dir="/var/tmp"))
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    env["REPL_SANDBOX_PYTHON"] = env["REPL_SANDBOX_PYTHON"].replace("/opt/sandbox-python", str(venv))
    deployment.env.update(env)
    start = deployment.start("image", json.loads(instructions[-1][len("CMD"):]))
    deployment.service.wait_ready()
    exercise(deployment.service)

    sid = f"deploy-{uuid.uuid4().hex[:12]}"
    deployment.service.write(sid, "a.txt", "a\n")
    result: dict[str, Any] = {}
    job = threading.Thread(target=lambda: result.update(
        response=deployment.service.post("/run", {"id": sid, "cmd": "sleep 2; cat a.txt"})))
    job.start()
    time.sleep(0.7)
    os.kill(start.pid, signal.SIGTERM)
    job.join(30)
    assert result["response"].status_code == 200, result["response"].text
    assert result["response"].json()["stdout"] == "a\n"
    # honcho answers SIGTERM with 128 + 15, as a process killed by it would (and reports the
    # `sh -c` wrapper of each process as killed); the processes themselves drained and ended.
    assert start.wait(30) in (0, 128 + signal.SIGTERM)
    log = deployment.service.log("image")
    assert "supervisor INFO supervisor stopped" in log and "Shutting down: Master" in log, log
    shutil.rmtree(venv, ignore_errors=True)
