"""A second instance on one host starts beside the first when the variables the README
lists ("A second instance on the same host") are changed, and only those."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

from supervisor.exitcodes import ExitCode
from tests.lifecycle.conftest import running_service
from tests.support.service import ROOT, Service, free_port, procfile, sandbox_uid

START, END = "<!-- second-instance:start -->", "<!-- second-instance:end -->"


def documented_variables() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert text.count(START) == 1 and text.count(END) == 1, "README.md needs the second-instance list"
    block = text.split(START, 1)[1].split(END, 1)[0]
    return re.findall(r"^- `([A-Z_]+)`", block, flags=re.MULTILINE)


def fresh_values(workdir: Path) -> dict[str, Callable[[], str]]:
    """A value of each variable that no other instance uses."""
    return {
        "PORT": lambda: str(free_port()),
        "REPL_SESSION_ROOT": lambda: str(workdir / "sessions"),
        "REPL_SUPERVISOR_ENDPOINT": lambda: f"ipc://{workdir}/supervisor.sock",
        "REPL_SANDBOX_UID": sandbox_uid,
    }


def test_the_documented_variables_are_enough_for_a_second_instance() -> None:
    variables = documented_variables()
    assert variables, "the README lists no variables"
    with running_service() as first:
        workdir = Path(tempfile.mkdtemp(prefix="repl-second-"))
        makers = fresh_values(workdir)
        assert set(variables) <= set(makers), f"no fresh value known for {set(variables) - set(makers)}"
        second = Service(env={**first.env, **{name: makers[name]() for name in variables}}, workdir=workdir)
        second.start_process("supervisor")
        second.start_process("web")
        try:
            second.wait_ready()
            sid = f"i-{uuid.uuid4().hex[:12]}"
            second.write(sid, "where.txt", "second")
            assert second.run(sid, "cat where.txt")["stdout"] == "second"
            assert first.post("/run", {"id": sid, "cmd": "true"}).status_code == 400  # not the first's session
            first.write(sid, "where.txt", "first")
            assert first.run(sid, "cat where.txt")["stdout"] == "first"
            assert second.run(sid, "cat where.txt")["stdout"] == "second"
        finally:
            second.stop()
            shutil.rmtree(workdir, ignore_errors=True)


def test_changing_the_port_alone_is_refused_by_the_supervisor() -> None:
    with running_service() as first:
        env = {**first.env, "PORT": str(free_port())}
        refused = subprocess.run(shlex.split(procfile()["supervisor"]), cwd=ROOT, env=env,
                                 capture_output=True, text=True, timeout=30, check=False)
        assert refused.returncode == ExitCode.ALREADY_RUNNING, refused.stderr
        assert "another supervisor is already running" in refused.stderr
