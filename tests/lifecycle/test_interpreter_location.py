"""The supervisor starts wherever its interpreter lives, /tmp included.

A virtual environment under /tmp is common in CI. The sandbox image is built over a
tmpfs that covers /tmp, so an interpreter prefix under /tmp must be reached before it is
covered. The supervisor here runs from a real venv made under /tmp (with the system's
site-packages, so the dependencies are there); the web tier runs as usual.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.lifecycle.conftest import running_service


@pytest.fixture(scope="module")
def venv_under_tmp() -> Iterator[Path]:
    where = Path(tempfile.mkdtemp(prefix="repl-venv-", dir="/tmp"))
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(where / "venv")],
                   check=True, capture_output=True, timeout=120)
    yield where / "venv"
    shutil.rmtree(where, ignore_errors=True)


def test_a_supervisor_whose_python_lives_under_tmp_starts_and_runs_jobs(venv_under_tmp: Path) -> None:
    path = f"{venv_under_tmp / 'bin'}:{os.environ.get('PATH', '')}"
    with running_service(PATH=path, VIRTUAL_ENV=str(venv_under_tmp)) as svc:
        zygote = psutil.Process(svc.procs["supervisor"].pid).children()[0]
        assert zygote.cmdline()[0].startswith(str(venv_under_tmp)), zygote.cmdline()  # sys.executable
        sid = f"v-{uuid.uuid4().hex[:12]}"
        svc.write(sid, "main.py", "print(6 * 7)\n")
        assert svc.run(sid, "python3 main.py")["stdout"] == "42\n"
        result = svc.evaluate("import json\ndef f(x):\n    return json.loads(x)", "f", [("'[1, 2]'", "[1, 2]")],
                              session=sid)
        assert result["passed"], result
