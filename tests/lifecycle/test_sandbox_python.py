"""REPL_SANDBOX_PYTHON: user code runs on the interpreter the operator names (a virtualenv
with the packages user code may import), and cannot import the service's own packages."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.lifecycle.conftest import running_service
from tests.support.service import ROOT, Service

# Tries the service's package directory by hand, as hostile code would.
REACH_FOR_FLASK = """
import site, sys
for base in {bases}:
    sys.path.append(base)
try:
    import flask
    print("imported flask from", flask.__file__)
except ImportError:
    print("no flask")
"""


@pytest.fixture(scope="module", params=["/opt", "/var/tmp"])
def sandbox_venv(request: pytest.FixtureRequest) -> Iterator[Path]:
    """A virtualenv without the service's packages but with one of its own (outside /tmp:
    every sandbox mounts its own /tmp). Under /opt, as in the image (a system directory
    the sandbox image holds anyway), and under /var/tmp (bound into the image on its own)."""
    where = Path(tempfile.mkdtemp(prefix="repl-sandbox-python-", dir=request.param))
    where.chmod(0o755)  # as an operator's /opt/sandbox-python: the sandbox user must reach it
    venv = where / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, capture_output=True,
                   timeout=120)
    site_packages = next(venv.glob("lib/python3*/site-packages"))
    (site_packages / "sandboxonly.py").write_text('WHERE = "the sandbox interpreter"\n')
    yield venv
    shutil.rmtree(where, ignore_errors=True)


@pytest.fixture(scope="module")
def on_venv(sandbox_venv: Path) -> Iterator[Service]:
    with running_service(REPL_SANDBOX_PYTHON=str(sandbox_venv / "bin" / "python3"), REPL_POOL_SIZE=2) as svc:
        yield svc


def _service_package_dirs() -> list[str]:
    import site
    return [p for p in site.getsitepackages() if os.path.isdir(os.path.join(p, "flask"))]


def test_cases_run_on_the_sandbox_interpreter(on_venv: Service, sandbox_venv: Path) -> None:
    code = "import sys, sandboxonly\ndef f():\n    return [sandboxonly.WHERE, sys.prefix]"
    case = on_venv.evaluate(code, "f", [("", "1")])["case_results"][0]
    assert case["got"] == ["the sandbox interpreter", str(sandbox_venv)], case


def test_commands_get_the_sandbox_interpreter_as_python3(on_venv: Service, sandbox_venv: Path) -> None:
    sid = f"rt-{uuid.uuid4().hex[:12]}"
    on_venv.write(sid, "a.txt", "")
    result = on_venv.run(sid, "python3 -c 'import sys, sandboxonly; print(sys.prefix)'")
    assert result["stdout"] == f"{sandbox_venv}\n", result


def test_program_cases_run_on_the_sandbox_interpreter(on_venv: Service, sandbox_venv: Path) -> None:
    code = "import sys, sandboxonly\nprint(sandboxonly.WHERE, sys.prefix)"
    body = {"id": "scratch-program", "code": code, "io_cases": [{"stdin": "", "stdout": "anything"}]}
    response = on_venv.post("/evaluate_code", body)
    assert response.status_code == 200, response.text
    case = response.json()["case_results"][0]
    assert case["got"] == f"the sandbox interpreter {sandbox_venv}\n", case


def test_user_code_cannot_import_the_services_packages(on_venv: Service) -> None:
    bases = _service_package_dirs()
    assert bases, "the service's own flask should be in one of its site-packages"
    attack = REACH_FOR_FLASK.format(bases=bases)
    sid = f"rt-{uuid.uuid4().hex[:12]}"
    on_venv.write(sid, "reach.py", attack)
    assert on_venv.run(sid, "python3 reach.py")["stdout"] == "no flask\n"
    body = on_venv.evaluate(attack + "\ndef f():\n    return 1", "f", [("", "1")])
    assert body["case_results"][0]["stdout"] == "no flask\n", body
    for base in bases:  # the directories are there, and empty
        assert on_venv.run(sid, f"ls -A {base} | wc -l")["stdout"] == "0\n"


def test_without_the_setting_user_code_runs_on_the_services_interpreter(service: Service) -> None:
    attack = REACH_FOR_FLASK.format(bases=[])
    body = service.evaluate(attack + "\ndef f():\n    return 1", "f", [("", "1")])
    assert body["case_results"][0]["stdout"].startswith("imported flask"), body


@pytest.mark.parametrize("python", ["/nonexistent/bin/python3", "relative/python3", "under-tmp"])
def test_an_unusable_sandbox_interpreter_stops_the_supervisor_with_a_reason(python: str, tmp_path: Path) -> None:
    if python == "under-tmp":
        venv = Path(tempfile.mkdtemp(dir="/tmp")) / "venv"
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
        python = str(venv / "bin" / "python3")
    env = {**os.environ, "REPL_SANDBOX_PYTHON": python, "REPL_SESSION_ROOT": str(tmp_path / "sessions"),
           "REPL_SUPERVISOR_ENDPOINT": f"ipc://{tmp_path}/s.sock"}
    done = subprocess.run([sys.executable, "-m", "supervisor"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 2, done.stderr
    assert "REPL_SANDBOX_PYTHON" in done.stderr, done.stderr
    if "venv" in python:
        shutil.rmtree(Path(python).parents[2], ignore_errors=True)
