"""Starting and stopping the processes a run measures: the service and the baseline apps.

Every process is started in its own session (process group) with its output in a log file,
so it can be stopped as a whole with SIGTERM, and a failure to start can be explained
with the end of its log instead of a hang.
"""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import requests

#: The service's commands when the repository has no ``Procfile`` (or lacks a line).
DEFAULT_COMMANDS = {
    "supervisor": "python3 -m supervisor",
    "web": "gunicorn -c webapp/gunicorn_conf.py 'webapp:create_app()'",
}

#: The gunicorn settings file the service uses, relative to the repository root.
GUNICORN_CONF = "webapp/gunicorn_conf.py"

#: The WSGI target of the bare echo app that stands in for the web tier in a baseline.
ECHO_APP = "bench.echo_app:app"

#: The WSGI target of the simple grader that stands in for the whole service in a baseline.
POOL_APP = "bench.pool_app:app"

#: Seconds a process gets to exit after SIGTERM before it is killed.
STOP_GRACE_S = 15.0

#: Seconds the rest of a process group gets to exit once its leader has.
LEFTOVER_GRACE_S = 5.0

#: Seconds between two readiness probes.
POLL_INTERVAL_S = 0.1


class StartError(RuntimeError):
    """A process exited or did not become ready in time; the message has its log tail."""


def free_port() -> int:
    """Returns a TCP port on 127.0.0.1 that was free a moment ago.

    The port is released before use, so another program could take it first; a clash
    shows as a start failure with the server's own message in its log.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def read_procfile(path: Path) -> dict[str, str]:
    """Returns the ``name: command`` lines of a Procfile; empty if it does not exist.

    Blank lines and ``#`` comments are skipped; a later line for a name wins, as in
    foreman and honcho.
    """
    if not path.is_file():
        return {}
    commands: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or ":" not in stripped:
            continue
        name, command = stripped.split(":", 1)
        if name.strip() and command.strip():
            commands[name.strip()] = command.strip()
    return commands


def service_commands(repo: Path) -> dict[str, str]:
    """Returns the ``supervisor`` and ``web`` commands, from the Procfile where present."""
    found = read_procfile(repo / "Procfile")
    return {name: found.get(name, default) for name, default in DEFAULT_COMMANDS.items()}


def app_command(repo: Path, web_command: str, app: str = ECHO_APP) -> str:
    """Returns a command that runs a baseline ``app`` with the service's gunicorn settings.

    The service's ``web`` command is reused with its app argument (the token naming
    ``webapp``) swapped for ``app``, so worker class, worker count and every other
    option match. A settings file that does not exist (yet) is left out, and a command that
    does not look like that is replaced by plain gunicorn with the settings file if any.
    """
    tokens = shlex.split(web_command)
    app_positions = [i for i, token in enumerate(tokens) if token.startswith("webapp:")]
    if tokens and Path(tokens[0]).name == "gunicorn" and len(app_positions) == 1:
        tokens[app_positions[0]] = app
        return shlex.join(_without_missing_config(repo, tokens))
    if (repo / GUNICORN_CONF).is_file():
        return shlex.join(["gunicorn", "-c", GUNICORN_CONF, app])
    return shlex.join(["gunicorn", app])


def _without_missing_config(repo: Path, tokens: list[str]) -> list[str]:
    """Drops a gunicorn ``-c FILE``/``--config FILE`` option whose file does not exist."""
    kept: list[str] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if token in ("-c", "--config") and index + 1 < len(tokens):
            if (repo / tokens[index + 1]).is_file():
                kept += tokens[index : index + 2]
            index += 2
            continue
        if token.startswith("--config=") and not (repo / token.split("=", 1)[1]).is_file():
            index += 1
            continue
        kept.append(token)
        index += 1
    return kept


def is_simple_command(command: str) -> bool:
    """Whether ``command`` is one simple command (no ``;``, ``&&``, ``|``, redirection...).

    Operators inside quotes do not count: ``'webapp:create_app()'`` is simple.
    """
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    try:
        tokens = list(lexer)
    except ValueError:  # unbalanced quotes: let the shell report it
        return False
    return not any(token and set(token) <= set("();<>|&") for token in tokens)


def loopback_env(
    base: Mapping[str, str], port: int, control_socket: Path, extra: Mapping[str, str]
) -> dict[str, str]:
    """Returns the environment of a started process: ``base`` plus ``PORT`` and ``extra``.

    ``GUNICORN_CMD_ARGS`` overrides gunicorn's settings file (though not its command
    line): it binds gunicorn to 127.0.0.1 so the run stays on loopback, and gives each
    gunicorn its own control socket instead of the shared default under ``$HOME``, which
    the service and the echo app (or a developer's own server) would otherwise fight over.
    """
    env = dict(base)
    env.update(extra)
    env["PORT"] = str(port)
    env["GUNICORN_CMD_ARGS"] = f"--bind=127.0.0.1:{port} --control-socket={control_socket}"
    return env


@dataclass
class ManagedProcess:
    """A shell command run in its own process group, logging to a file.

    Attributes:
        name: Short name used in messages (``web``, ``supervisor``, ``echo``, ``pool``).
        command: The shell command line.
        log_path: File receiving its stdout and stderr.
        popen: The running process, once started.
        terminated: Whether :meth:`stop` had to signal it (it was still running).
        leftovers: Whether processes of its group outlived it and had to be killed.
    """

    name: str
    command: str
    log_path: Path
    popen: subprocess.Popen[bytes] | None = None
    terminated: bool = False
    leftovers: bool = False

    def start(self, cwd: Path, env: Mapping[str, str]) -> None:
        """Starts the command with ``/bin/sh -c`` so Procfile syntax (``$PORT``) works.

        A simple command is ``exec``-ed, so the process the harness signals is the server
        itself and SIGTERM tests the server's own shutdown, not the shell's.
        """
        line = f"exec {self.command}" if is_simple_command(self.command) else self.command
        with self.log_path.open("ab") as log:
            self.popen = subprocess.Popen(  # noqa: S603 - our own Procfile commands
                ["/bin/sh", "-c", line],
                cwd=cwd,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def exited(self) -> int | None:
        """Returns the exit status if the process has ended, else ``None``."""
        return None if self.popen is None else self.popen.poll()

    def stop(self) -> int | None:
        """Sends SIGTERM to the process, then SIGKILL to its group after a grace period.

        Only the leader gets SIGTERM, as from a process manager: draining its own children
        is the server's job. What is left of the group afterwards is killed, and reported
        through :attr:`leftovers`.

        Returns:
            The exit status, or ``None`` if the process was never started.
        """
        if self.popen is None:
            return None
        if self.popen.poll() is None:
            self.terminated = True
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self.popen.wait(timeout=STOP_GRACE_S)
        self.leftovers = self._reap_group()
        return self.popen.returncode

    def _reap_group(self) -> bool:
        """Waits briefly for the rest of the group to go, then kills it.

        Returns:
            Whether members of the group were still alive after the grace period.
        """
        deadline = time.monotonic() + LEFTOVER_GRACE_S
        while time.monotonic() < deadline:
            if not self._signal_group(0):
                return False
            time.sleep(POLL_INTERVAL_S)
        self._signal_group(signal.SIGKILL)
        return True

    def _signal_group(self, signum: int) -> bool:
        """Signals the process's group; returns ``False`` if the group is gone.

        The group keeps the leader's number while any member lives (Linux does not reuse a
        pid that is still a group id), so this cannot reach an unrelated process.
        """
        assert self.popen is not None
        try:
            os.killpg(self.popen.pid, signum)
        except ProcessLookupError:
            return False
        return True

    def log_tail(self, lines: int = 30) -> str:
        """Returns the last lines of the process's log, for error messages."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


def wait_ready(url: str, processes: Sequence[ManagedProcess], timeout: float) -> None:
    """Polls ``url`` until it answers 200, failing fast if a process exits.

    Raises:
        StartError: If a process exits or the URL is not ready within ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while time.monotonic() < deadline:
        for process in processes:
            status = process.exited()
            if status is not None:
                raise StartError(
                    f"{process.name} exited with status {status} while starting "
                    f"({process.command}); log {process.log_path}:\n{process.log_tail()}"
                )
        try:
            reply = requests.get(url, timeout=2.0)
            if reply.status_code == 200:
                return
            last = f"HTTP {reply.status_code}: {reply.text[:200]}"
        except requests.RequestException as error:
            last = str(error)[:200]
        time.sleep(POLL_INTERVAL_S)
    tails = "\n".join(f"--- {p.name} ({p.log_path}):\n{p.log_tail()}" for p in processes)
    raise StartError(f"{url} not ready after {timeout:.0f} s (last: {last})\n{tails}")


def stop_all(processes: Sequence[ManagedProcess]) -> None:
    """Stops the processes in reverse start order (the web tier before its supervisor)."""
    for process in reversed(processes):
        process.stop()
