"""A command (`/run`, a program's `cmd`) is spawned by the template instead of run by a
forked interpreter (supervisor/sandbox/spawn.py, docs/security.md "A command unit is
spawned"). It must start exactly as confined as a forked unit: only its three standard
descriptors, no blocked signal and only SIGXFSZ ignored, the sandbox uid alone, the job's
limits to the byte, first in line for the OOM killer, a session of its own, the session
directory, and the sandbox's environment with nothing of the spawning machinery in it.
A Python program case, still run by a forked unit, is the reference for what is shared."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from typing import Any

import pytest

from tests.security.support import hostile, new_session
from tests.support.service import Service, start_service

RUN_TIMEOUT = 5  # seconds: the command's RLIMIT_CPU is this plus one, its hard limit one more
REFERENCE = """import os
for line in open('/proc/self/limits'):
    if line.startswith(('Max file size', 'Max processes', 'Max address space')):
        print(line.rstrip())
for key, value in sorted(os.environ.items()):
    print(f'env {key}={value}')
"""


def lines_of(text: str, prefix: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(prefix)]


def limits_of(text: str) -> dict[str, tuple[str, str]]:
    """`Max ...` lines of /proc/<pid>/limits: name -> (soft, hard)."""
    found = {}
    for line in lines_of(text, "Max "):
        name, soft, hard = line[:26].strip(), *line[26:].split()[:2]
        found[name] = (soft, hard)
    return found


def reference(service: Service, session: str) -> str:
    """What a Python program case of the same session sees (a forked unit, `unit.become`)."""
    body: dict[str, Any] = {"id": session, "code": REFERENCE, "io_cases": [{"stdin": "", "stdout": "-"}]}
    response = service.post("/evaluate_code", body)
    assert response.status_code == 200, response.text
    return str(response.json()["case_results"][0]["stdout"])


def test_a_command_starts_as_confined_as_a_forked_unit(service: Service, session: str):
    result = service.run(session, hostile("command_start.sh"), timeout=RUN_TIMEOUT)
    out = result["stdout"]
    assert result["exit_code"] == 0, result
    uid = str(service.sandbox_uid)
    assert lines_of(out, "fds ") == ["fds 0 1 2"], out
    assert lines_of(out, "SigBlk:")[0].split()[1] == "0000000000000000", out
    assert lines_of(out, "SigIgn:")[0].split()[1] == "0000000001000000", out  # SIGXFSZ only (25)
    assert lines_of(out, "Uid:")[0].split()[1:] == [uid] * 4, out
    assert lines_of(out, "Gid:")[0].split()[1:] == [uid] * 4, out
    assert lines_of(out, "oom ") == ["oom 500"], out
    session_id, pid = lines_of(out, "session ")[0].split()[1::2]
    assert session_id == pid, out
    assert lines_of(out, "cwd ") == ["cwd /session"], out

    limits = limits_of(out)
    assert limits["Max cpu time"] == (str(RUN_TIMEOUT + 1), str(RUN_TIMEOUT + 2)), out
    seen_by_a_forked_unit = reference(service, session)
    expected = limits_of(seen_by_a_forked_unit)
    soft, hard = limits["Max file size"]
    assert soft == hard and int(soft) % 512, f"the session's allowance {soft} proves nothing about rounding"
    for name in ("Max file size", "Max processes", "Max address space"):
        assert limits[name] == expected[name], (name, out, seen_by_a_forked_unit)

    # The program case's environment has its PROGRAM, and `env` run by the command's
    # shell gets the PWD every `sh` exports.
    program = {line for line in lines_of(seen_by_a_forked_unit, "env ") if line.startswith("env PROGRAM=")}
    expected_environment = set(lines_of(seen_by_a_forked_unit, "env ")) - program | {"env PWD=/session"}
    assert program and set(lines_of(out, "env ")) == expected_environment, (out, seen_by_a_forked_unit)


def test_a_command_gets_its_stdin_whole_and_its_own_text_exactly(service: Service, session: str):
    """The script that carries the command rides ahead of the stdin on the same pipe: the
    command gets every byte of its stdin, and its own text with quotes, newlines,
    backslashes and non-ASCII as sent."""
    cmd = "printf '%s|' \"$0\" 'it'\"'\"'s' \"a\\\\b\"; echo; cat; echo 'é\n  two'"
    stdin = "line one\n\\no newline at the end: 'q' \"dq\" é"
    result = service.run(session, cmd, stdin=stdin)
    assert result["stdout"] == "/bin/sh|it's|a\\b|\n" + stdin + "é\n  two\n", result
    assert result["exit_code"] == 0 and result["stderr"] == "", result


IGNORED_BY_THE_OPERATOR = (signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGUSR1)
SIGNAL_PROBE = "grep '^SigIgn:' /proc/self/status"


@pytest.fixture(scope="module")
def service_started_ignoring_signals() -> Iterator[Service]:
    """A service started as `nohup` or a shell's `&` start one: with signals ignored,
    which every process it forks or execs inherits unless something sets them back."""
    saved = {signum: signal.signal(signum, signal.SIG_IGN) for signum in IGNORED_BY_THE_OPERATOR}
    try:
        service = start_service()
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)
    try:
        yield service
    finally:
        service.stop()


def test_what_the_operator_ignored_is_not_ignored_by_user_code(service_started_ignoring_signals: Service):
    """`sh -c cmd` and `python3 main.py` run by the user ignore no signal they were not
    born ignoring, however the service was started: a command SIGXFSZ only (as before), a
    Python program what `python3` ignores itself."""
    service = service_started_ignoring_signals
    session = new_session(service)
    ran = service.run(session, SIGNAL_PROBE)
    assert ran["exit_code"] == 0, ran
    assert ran["stdout"].split() == ["SigIgn:", "0000000001000000"], ran
    code = ("import signal\n"
            "print(*[line for line in open('/proc/self/status') if line.startswith('SigIgn:')], end='')\n"
            "print('SIGHUP default', signal.getsignal(signal.SIGHUP) == signal.SIG_DFL)\n")
    body: dict[str, Any] = {"id": session, "code": code, "io_cases": [{"stdin": "", "stdout": "-"}]}
    response = service.post("/evaluate_code", body)
    assert response.status_code == 200, response.text
    out = response.json()["case_results"][0]["stdout"]
    # SIGPIPE (13) and SIGXFSZ (25): what `python3` itself ignores at start
    assert out.splitlines() == ["SigIgn:\t0000000001001000", "SIGHUP default True"], out
