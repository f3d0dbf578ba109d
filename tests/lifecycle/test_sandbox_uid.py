"""Two supervisors on one host, and the sandbox uid: each supervisor's sandboxes run as a
uid (and its templates as the one after it) that no other process may hold.

There is no user namespace, so the kernel counts every process of the uid on the machine
against the sandboxes' RLIMIT_NPROC. A second supervisor given uids the first one holds
refuses to start, naming the holder, even when the holder is outside its pid namespace;
one with its own uids starts beside it (`test_second_instance.py`). Processes that take
the uid's process limit after the start are not prevented, but the service then says so:
a job whose unit could not be forked is 503 when nothing of it ran, `/readyz` is 503
until a sandbox can start again, and it recovers by itself.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from supervisor.exitcodes import ExitCode
from tests.lifecycle.conftest import running_service, wait_for
from tests.support.service import ROOT, Service, procfile, sandbox_uid

UNSHARE = ["unshare", "--pid", "--fork", "--kill-child", "--mount-proc"]  # the child dies with it
HOLDERS = 24  # more processes than the tight service's sandboxes may have (4 x 2 slots)


@contextmanager
def processes_of(uid: int, count: int = 1) -> Iterator[subprocess.Popen]:
    """`count` processes (`sleep`) running as `uid`, as another service on the host would."""
    script = " ".join(["sleep 120 &"] * count) + " wait"
    proc = subprocess.Popen(["sh", "-c", script], user=uid, group=uid, extra_groups=[],
                            start_new_session=True)
    try:
        wait_for(lambda: _count_of(uid) >= count, timeout=10)
        yield proc
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        wait_for(lambda: _count_of(uid) == 0, timeout=10)


def _count_of(uid: int) -> int:
    count = 0
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and os.stat(f"/proc/{entry}").st_uid == uid:
                count += 1
        except OSError:
            pass
    return count


def supervisor_env(uid: int, workdir: Path) -> dict[str, str]:
    """A supervisor of its own (session root, endpoint) with sandbox uid `uid`."""
    return {**os.environ, "REPL_SANDBOX_UID": str(uid), "REPL_SESSION_ROOT": str(workdir / "sessions"),
            "REPL_SUPERVISOR_ENDPOINT": f"ipc://{workdir}/supervisor.sock", "REPL_POOL_SIZE": "1"}


def start_supervisor(uid: int, workdir: Path, prefix: list[str] | None = None) -> subprocess.CompletedProcess:
    """Run such a supervisor until it exits (it is expected to refuse to start)."""
    return subprocess.run([*(prefix or []), *shlex.split(procfile()["supervisor"])], cwd=ROOT,
                          env=supervisor_env(uid, workdir), capture_output=True, text=True, timeout=30, check=False)


@pytest.mark.parametrize("offset", [0, -1, 1], ids=["same-uid", "its-template-uid-is-ours", "ours-is-its-template"])
def test_a_second_supervisor_refuses_uids_the_first_one_holds(offset: int, tmp_path: Path) -> None:
    with running_service(REPL_POOL_SIZE=1) as first:
        second = start_supervisor(first.sandbox_uid + offset, tmp_path)
        assert second.returncode == ExitCode.UID_IN_USE, second.stderr
        assert f"REPL_SANDBOX_UID={first.sandbox_uid + offset}" in second.stderr, second.stderr
        assert "as one of them" in second.stderr and "Give each its own REPL_SANDBOX_UID" in second.stderr
        # The first one is unharmed.
        sid = f"u-{uuid.uuid4().hex[:12]}"
        first.write(sid, "a.txt", "a")
        assert first.run(sid, "cat a.txt")["stdout"] == "a"


def test_a_holder_outside_the_supervisors_pid_namespace_is_found_too(tmp_path: Path) -> None:
    """As in a container: /proc shows the supervisor nothing of the host's processes, yet
    the host's process of the template uid is found."""
    uid = int(sandbox_uid())
    with processes_of(uid + 1):
        refused = start_supervisor(uid, tmp_path, prefix=UNSHARE)
    assert refused.returncode == ExitCode.UID_IN_USE, refused.stderr
    assert f"outside this supervisor's view (on the host or in another container) runs as uid {uid + 1}" \
        in refused.stderr, refused.stderr


def test_without_the_holder_the_same_supervisor_starts(tmp_path: Path) -> None:
    """The control of the test above: the same command, with nobody holding the uids."""
    uid = int(sandbox_uid())
    log = tmp_path / "supervisor.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([*UNSHARE, *shlex.split(procfile()["supervisor"])], cwd=ROOT,
                                env=supervisor_env(uid, tmp_path), stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        wait_for(lambda: "supervisor ready" in log.read_text() or proc.poll() is not None, timeout=30)
        assert proc.poll() is None, log.read_text()
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _run(svc: Service, sid: str) -> requests.Response:
    """A job whose unit the template forks (a function case; a command is spawned with the
    sandbox uid as real uid, so it counts against that uid's processes, not the template's),
    which leaves a line in ran.txt."""
    code = "def f():\n    with open('ran.txt', 'a') as out:\n        out.write('ran\\n')\n    return 1\n"
    return svc.post("/evaluate_code", {"id": sid, "code": code, "entry_point": "f",
                                       "io_cases": [{"input": "", "output": "1"}]})


def _runs(svc: Service, sid: str) -> int:
    return svc.get("/read_file", params={"id": sid, "rel_path": "ran.txt"}).json()["content"].count("ran")


def _ready(svc: Service) -> requests.Response:
    return requests.get(svc.url + "/readyz", timeout=5)


def test_units_that_cannot_be_forked_give_503_not_ready_and_recovery() -> None:
    settings = {"REPL_POOL_SIZE": 1, "REPL_MAX_CONCURRENT_JOBS": 1, "REPL_MAX_PROCESSES": 4}
    with running_service(**settings) as svc:
        sid = f"u-{uuid.uuid4().hex[:12]}"
        svc.write(sid, "ran.txt", "")
        assert _run(svc, sid).status_code == 200
        assert _runs(svc, sid) == 1
        with processes_of(svc.sandbox_uid + 1, HOLDERS):
            # Each sandbox forked its next unit ahead of time, before the holders came: those
            # run (the pool holds at most two sandboxes here). A job that needs a new fork
            # is refused it: the template's uid is past its process limit.
            answers = [_run(svc, sid)]
            while answers[-1].status_code == 200 and len(answers) < 4:
                answers.append(_run(svc, sid))
            assert [a.status_code for a in answers[:-1]] == [200] * (len(answers) - 1), [a.text for a in answers]
            refused = answers[-1]
            assert refused.status_code == 503, [a.text for a in answers]
            assert refused.headers.get("Retry-After"), refused.headers
            assert "could not fork" in refused.json()["detail"] and "not started" in refused.json()["detail"]
            assert _runs(svc, sid) == len(answers)  # the one before, and each answered 200: not the refused one
            ready = _ready(svc)
            assert ready.status_code == 503, ready.text
            assert "sandboxes cannot run units" in ready.json()["detail"], ready.text
            time.sleep(2)  # sandboxes are asked for again and fail to start meanwhile
            assert _ready(svc).status_code == 503
            assert re.search(r"^repl_supervisor_units_not_forked_total 1(\.0)?$", svc.get("/metrics").text, re.M)
        wait_for(lambda: _ready(svc).status_code == 200, timeout=30)
        assert _run(svc, sid).status_code == 200
        assert _runs(svc, sid) == len(answers) + 1


def test_a_job_that_had_begun_when_a_fork_failed_is_not_answered_503() -> None:
    """Two cases: the first runs on the unit forked ahead of time and exits, which ends
    that unit; the unit the second needs cannot be forked. The first may have changed the
    session, so the answer is 504 (outcome unknown), never 503."""
    settings = {"REPL_POOL_SIZE": 1, "REPL_MAX_CONCURRENT_JOBS": 1, "REPL_MAX_PROCESSES": 4}
    code = ("import os\ndef f(x):\n    open('cases.txt', 'a').write('case\\n')\n    if x == 1:\n"
            "        os._exit(0)\n    return x\n")
    with running_service(**settings) as svc:
        sid = f"u-{uuid.uuid4().hex[:12]}"
        svc.write(sid, "cases.txt", "")
        with processes_of(svc.sandbox_uid + 1, HOLDERS):
            body = {"id": sid, "code": code, "entry_point": "f", "io_cases": [{"input": "1", "output": "1"},
                                                                               {"input": "2", "output": "2"}]}
            answer = svc.post("/evaluate_code", body)
            assert answer.status_code == 504, answer.text
            assert "after part of the job had run" in answer.json()["detail"], answer.text
        read = svc.get("/read_file", params={"id": sid, "rel_path": "cases.txt"})
        assert read.json()["content"] == "case\n"  # the first case ran: a retry would run it twice
