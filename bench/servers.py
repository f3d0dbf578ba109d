"""The servers a run brings up: the service itself (``--start``) and the baseline apps.

Each is a context manager, so the processes are stopped with SIGTERM however the run ends
(normally, on an error, or on Ctrl-C).
"""

from __future__ import annotations

import os
import random
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.procs import (
    ManagedProcess,
    app_command,
    free_port,
    loopback_env,
    service_commands,
    stop_all,
    wait_ready,
)


def service_env(workdir: Path) -> dict[str, str]:
    """Returns the service variables that keep a run's state inside ``workdir``.

    The sandbox uid too, unless one is set: a supervisor refuses to start while another
    process (another run's supervisor, say) holds its uids.
    """
    sessions = workdir / "sessions"
    sessions.mkdir(exist_ok=True)
    return {
        "REPL_SESSION_ROOT": str(sessions),
        "REPL_SUPERVISOR_ENDPOINT": f"ipc://{workdir / 'sup.sock'}",
        "REPL_SANDBOX_UID": os.environ.get("REPL_SANDBOX_UID")
        or str(random.SystemRandom().randrange(200_000, 2_000_000_000, 2)),
    }


def pool_env(workdir: Path, python: str | None = None) -> dict[str, str]:
    """Returns the pool baseline's variables: the service's, plus its own session root and
    the interpreter its program cases start (``BENCH_PYTHON``), when one is chosen."""
    sessions = workdir / "pool-sessions"
    sessions.mkdir(exist_ok=True)
    env = {**service_env(workdir), "BENCH_POOL_ROOT": str(sessions)}
    if python:
        env["BENCH_PYTHON"] = python
    return env


def _stop_and_report(processes: list[ManagedProcess]) -> None:
    """Stops the processes and warns about any that did not exit cleanly on SIGTERM.

    A non-zero status after SIGTERM is a finding about the service (it should drain and
    exit 0), so it is reported rather than hidden.
    """
    stop_all(processes)
    for process in processes:
        status = process.exited()
        if process.terminated and status not in (0, None):
            print(
                f"warning: {process.name} exited with status {status} after SIGTERM "
                f"(log {process.log_path})",
                file=sys.stderr,
            )
        if process.leftovers:
            print(
                f"warning: processes of {process.name} outlived it and were killed",
                file=sys.stderr,
            )


@dataclass(frozen=True)
class ServiceHandle:
    """A started service.

    Attributes:
        base_url: ``http://127.0.0.1:PORT`` of its web tier.
        processes: Its processes, in start order.
    """

    base_url: str
    processes: tuple[ManagedProcess, ...]

    @property
    def supervisor_pid(self) -> int | None:
        """The pid the supervisor's command runs as (the shell's, if it was not ``exec``-ed).

        Its process tree holds the zygote and every sandbox, which is what the per-case CPU
        measurement adds up.
        """
        for process in self.processes:
            if process.name == "supervisor" and process.popen is not None:
                return process.popen.pid
        return None

    def death(self) -> str | None:
        """Describes a process that has exited (with its log tail), or ``None`` if all run.

        Checked between scenarios: once the service is gone, every further figure would be
        a connection error, so the run stops and says why.
        """
        for process in self.processes:
            status = process.exited()
            if status is not None:
                return (f"{process.name} exited with status {status} during the run; "
                        f"log {process.log_path}:\n{process.log_tail()}")
        return None


@contextmanager
def running_service(repo: Path, workdir: Path, timeout: float,
                    extra_env: Mapping[str, str] | None = None) -> Iterator[ServiceHandle]:
    """Starts the supervisor and the web tier from ``repo`` and yields a handle on them.

    Args:
        repo: Repository root (the commands are run from there, as a Procfile expects).
        workdir: Private directory for the sessions, the socket and the logs.
        timeout: Seconds to wait for ``GET /readyz`` to answer 200.
        extra_env: Settings of the service that the run needs changed from the defaults.

    Raises:
        StartError: If a process exits or the service is not ready in time.
    """
    commands = service_commands(repo)
    port = free_port()
    env = loopback_env(os.environ, port, workdir / "web.ctl", {**(extra_env or {}), **service_env(workdir)})
    processes: list[ManagedProcess] = []
    try:
        for name in ("supervisor", "web"):
            process = ManagedProcess(name, commands[name], workdir / f"{name}.log")
            process.start(repo, env)
            processes.append(process)
        base_url = f"http://127.0.0.1:{port}"
        wait_ready(f"{base_url}/readyz", processes, timeout)
        yield ServiceHandle(base_url, tuple(processes))
    finally:
        _stop_and_report(processes)


@contextmanager
def running_app(
    name: str, app: str, repo: Path, workdir: Path, timeout: float, extra_env: Mapping[str, str]
) -> Iterator[str]:
    """Starts a baseline WSGI ``app`` under gunicorn with the service's settings.

    The service's ``web`` command is reused with its app swapped (``app_command``), so a
    baseline and the service are served by the same worker class and count.

    Args:
        name: Short name for messages and the log file (``echo``, ``pool``).
        app: WSGI target, e.g. ``bench.echo_app:app``.
        repo: Repository root, for the settings file and the Procfile.
        workdir: Directory for the log and the control socket.
        timeout: Seconds to wait for the app's ``GET /ping`` to answer.
        extra_env: Variables the settings file (or the app) reads.

    Yields:
        The app's base URL.

    Raises:
        StartError: If gunicorn exits or the app does not answer in time.
    """
    with running_app_process(name, app, repo, workdir, timeout, extra_env) as (base_url, _process):
        yield base_url


@contextmanager
def running_app_process(
    name: str, app: str, repo: Path, workdir: Path, timeout: float, extra_env: Mapping[str, str]
) -> Iterator[tuple[str, ManagedProcess]]:
    """:func:`running_app`, yielding the gunicorn master's process too (to read its CPU)."""
    command = app_command(repo, service_commands(repo)["web"], app)
    port = free_port()
    env = loopback_env(os.environ, port, workdir / f"{name}.ctl", extra_env)
    process = ManagedProcess(name, command, workdir / f"{name}.log")
    try:
        process.start(repo, env)
        base_url = f"http://127.0.0.1:{port}"
        wait_ready(f"{base_url}/ping", [process], timeout)
        yield base_url, process
    finally:
        _stop_and_report([process])
