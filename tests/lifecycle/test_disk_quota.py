"""The per-session disk quota (REPL_DISK_QUOTA_MB), against the real processes.

What is guaranteed, and tested here:
- `write_file` never takes a session past its quota: 413 with a detail naming the quota;
  earlier files stay intact.
- A command never writes one file past the session's remaining quota: the sandbox's
  RLIMIT_FSIZE is the remaining quota, so the write fails with EFBIG ("File too large")
  in the command's stderr and a non-zero exit code; files already there stay intact.
- RLIMIT_FSIZE bounds each file, not their sum: a command writing many files is stopped
  by the sandbox's disk watch once the session passes its quota (DiskQuotaExceeded in its
  stderr, non-zero exit code), having passed it by at most what it wrote in one check
  interval (docs/operations.md).
- After every job the sandbox measures the session and the store records it (and while
  that measurement is due, the store measures the disk itself): once a session is at or
  over its quota, `write_file` gets 413 and commands cannot grow any file (RLIMIT_FSIZE
  is 0) until files are deleted, which stays possible both through `delete_file` and
  through a command (`rm`).
- The accounting survives a supervisor restart (it is measured from the disk).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.lifecycle.conftest import running_service, snapshot
from tests.support.service import Service

QUOTA = 1 << 20  # REPL_DISK_QUOTA_MB=1


@pytest.fixture(scope="module")
def quota_service() -> Iterator[Service]:
    with running_service(REPL_DISK_QUOTA_MB=1) as svc:
        yield svc


def new_session(svc: Service) -> str:
    return f"quota-{uuid.uuid4().hex[:12]}"


def write(svc: Service, sid: str, path: str, content: str):
    return svc.post("/write_file", {"id": sid, "rel_path": path, "content": content})


def test_a_write_that_would_pass_the_quota_is_413_and_changes_nothing(quota_service: Service) -> None:
    svc, sid = quota_service, new_session(quota_service)
    first = "a" * 600_000
    assert write(svc, sid, "first.txt", first).status_code == 200
    before = snapshot(svc, sid)

    refused = write(svc, sid, "second.txt", "b" * 600_000)
    assert refused.status_code == 413
    detail = refused.json()["detail"]
    assert "quota" in detail and str(QUOTA) in detail, detail
    assert snapshot(svc, sid) == before  # no partial file, no temporary file, first intact

    # Replacing a file counts only the difference.
    bigger = "c" * 1_000_000
    assert write(svc, sid, "first.txt", bigger).status_code == 200
    assert write(svc, sid, "first.txt", "d" * (QUOTA + 1)).status_code == 413
    assert svc.get("/read_file", params={"id": sid, "rel_path": "first.txt"}).json()["content"] == bigger
    # Up to the quota exactly is allowed.
    assert write(svc, sid, "rest.txt", "e" * (QUOTA - len(bigger))).status_code == 200
    assert write(svc, sid, "one-more.txt", "f").status_code == 413
    # Deleting frees the space at once.
    assert svc.post("/delete_file", {"id": sid, "rel_path": "rest.txt"}).status_code == 200
    assert write(svc, sid, "one-more.txt", "f").status_code == 200


def test_a_command_writing_past_the_quota_gets_efbig(quota_service: Service) -> None:
    svc, sid = quota_service, new_session(quota_service)
    assert write(svc, sid, "keep.txt", "keep me\n").status_code == 200
    assert write(svc, sid, "dir/nested.txt", "me too\n").status_code == 200

    result = svc.run(sid, "head -c 2000000 /dev/zero > big.bin")
    assert result["exit_code"] != 0
    assert "File too large" in result["stderr"], result
    files = snapshot(svc, sid)
    assert svc.get("/read_file", params={"id": sid, "rel_path": "keep.txt"}).json()["content"] == "keep me\n"
    assert svc.get("/read_file", params={"id": sid, "rel_path": "dir/nested.txt"}).json()["content"] == "me too\n"
    sizes = {e["path"]: e["size"] for e in svc.get("/list_files", params={"id": sid}).json()["files"]}
    assert sizes["big.bin"] <= QUOTA - len("keep me\n") - len("me too\n")
    assert "big.bin" in files

    # The session is now full: the store learnt it from the job's report.
    assert write(svc, sid, "x.txt", "x").status_code == 413
    python = svc.run(sid, "python3 -c \"with open('y.txt', 'w') as f: f.write('y' * 10)\"")
    assert python["exit_code"] != 0 and "File too large" in python["stderr"], python
    assert svc.run(sid, "wc -c < y.txt")["stdout"].strip() == "0"


def test_a_command_writing_many_files_past_the_quota_is_stopped(quota_service: Service) -> None:
    """Each file stays under the remaining quota, their sum does not: the disk watch stops
    the command; afterwards nothing more can be written until files are deleted."""
    svc, sid = quota_service, new_session(quota_service)
    assert write(svc, sid, "keep.txt", "keep me\n").status_code == 200
    result = svc.run(sid, "for i in $(seq 1 100); do head -c 100000 /dev/zero > part$i || exit 1; "
                          "sleep 0.02; done; echo finished")
    assert result["exit_code"] != 0, result
    assert "finished" not in result["stdout"]
    assert "quota" in result["stderr"] or "File too large" in result["stderr"], result
    usage = sum(e["size"] for e in svc.get("/list_files", params={"id": sid}).json()["files"])
    assert usage < 100 * 100_000 / 2, "the command was not stopped early"
    assert svc.get("/read_file", params={"id": sid, "rel_path": "keep.txt"}).json()["content"] == "keep me\n"

    if usage > QUOTA:  # passed by what it wrote in the last check interval: frozen for writes
        refused = write(svc, sid, "more.txt", "x")
        assert refused.status_code == 413 and "quota" in refused.json()["detail"]
        blocked = svc.run(sid, "head -c 10 /dev/zero > more.bin")
        assert blocked["exit_code"] != 0 and "File too large" in blocked["stderr"], blocked

    # A command may still delete files; afterwards the session may grow again.
    cleaned = svc.run(sid, "rm -f part* more.bin && ls")
    assert cleaned["exit_code"] == 0 and cleaned["stdout"] == "keep.txt\n", cleaned
    assert write(svc, sid, "more.txt", "x").status_code == 200
    assert svc.run(sid, "head -c 500000 /dev/zero > again.bin")["exit_code"] == 0


def test_the_quota_holds_across_a_supervisor_restart(quota_service: Service) -> None:
    svc, sid = quota_service, new_session(quota_service)
    assert write(svc, sid, "big.txt", "a" * 900_000).status_code == 200
    assert svc.stop_process("supervisor") == 0
    svc.start_process("supervisor")
    svc.wait_ready()
    refused = write(svc, sid, "more.txt", "b" * 200_000)
    assert refused.status_code == 413, refused.text
    assert write(svc, sid, "small.txt", "b" * 100_000).status_code == 200
