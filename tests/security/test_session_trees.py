"""Attacks on the session store through trees that user code shapes: names that are not
UTF-8, very deep or very wide trees, special files, and trees changing while the store
walks them. Each must get a prompt, correct answer (never a 500 or a hang), and the
supervisor must keep serving everyone else."""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Iterator

import pytest

from tests.security.support import new_session, run_hostile, wait_until
from tests.support.service import Service, start_service


def list_files(svc: Service, session: str, timeout: float = 60) -> dict:
    response = svc.get("/list_files", params={"id": session}, timeout=timeout)
    assert response.status_code == 200, response.text
    return response.json()


def paths_of(listing: dict) -> set[str]:
    return {entry["path"] for entry in listing["files"]}


# --- names that are not UTF-8 -------------------------------------------------------------

def test_names_that_are_not_utf8_are_listed_escaped_and_flagged(service: Service, session: str) -> None:
    run_hostile(service, session, "non_utf8_name.sh")
    listing = list_files(service, session, timeout=20)  # it used to hang past 20 s
    odd = {e["path"]: e for e in listing["files"] if e.get("undecodable")}
    assert set(odd) == {"a\\xffb", "d\\xfe", "d\\xfe/x.txt"}, listing
    assert odd["d\\xfe"]["kind"] == "dir" and odd["d\\xfe/x.txt"]["size"] == 7
    assert all("undecodable" not in e for e in listing["files"] if e["path"] == "hello.txt")
    # The escaped text is not the name: the file API cannot name such a file.
    assert service.get("/read_file", params={"id": session, "rel_path": "a\\xffb"}).status_code == 404
    fork = service.post("/fork_session", {"id": session})
    assert fork.status_code == 200, fork.text
    assert {e["path"] for e in list_files(service, fork.json()["new_id"])["files"] if e.get("undecodable")} == set(odd)
    assert service.post("/delete_session", {"id": session}).status_code == 200


# --- a deep tree ---------------------------------------------------------------------------

def test_a_tree_1100_levels_deep_can_be_listed_forked_and_deleted(service: Service, session: str) -> None:
    result = run_hostile(service, session, "deep_tree.py", 1100)
    assert result["exit_code"] == 0, result
    bottom = "deep/" + "d/" * 1099 + "bottom.txt"
    assert bottom in paths_of(list_files(service, session))
    fork = service.post("/fork_session", {"id": session})
    assert fork.status_code == 200, fork.text
    new_id = fork.json()["new_id"]
    assert service.get("/read_file", params={"id": new_id, "rel_path": bottom}).json()["content"] == "bottom\n"
    for sid in (session, new_id):
        response = service.post("/delete_session", {"id": sid})
        assert response.status_code == 200, response.text
        assert service.get("/list_files", params={"id": sid}).status_code == 404


def test_a_tree_deeper_than_the_walks_go_is_refused_by_fork_and_still_deleted(service: Service, session: str) -> None:
    assert run_hostile(service, session, "deep_tree.py", 2100)["exit_code"] == 0
    assert list_files(service, session)["truncated"] is True
    fork = service.post("/fork_session", {"id": session})
    assert fork.status_code == 413 and "deeper than 2048 levels" in fork.json()["detail"], fork.text
    write = service.post("/write_file", {"id": session, "rel_path": "more.txt", "content": "x"})
    assert write.status_code == 413 and "cannot be measured" in write.json()["detail"], write.text
    assert service.post("/delete_session", {"id": session}).status_code == 200


@pytest.fixture(scope="module")
def expiring() -> Iterator[Service]:
    svc = start_service({"REPL_SESSION_TTL": "2"})
    yield svc
    svc.stop()


def test_the_idle_sweep_removes_a_deep_tree_and_the_supervisor_lives_on(expiring: Service) -> None:
    session = new_session(expiring, "deep")
    assert run_hostile(expiring, session, "deep_tree.py", 1100)["exit_code"] == 0
    # Watched from outside: asking the service would count as a use and keep it alive.
    gone = wait_until(lambda: not (expiring.session_root / session).exists(), 30, 0.5)
    assert expiring.procs["supervisor"].poll() is None, expiring.log("supervisor")
    assert gone, "the idle deep session was not removed"
    assert expiring.get("/readyz").status_code == 200


# --- special files -------------------------------------------------------------------------

def test_fork_copies_fifos_and_reports_the_sockets_it_skips(service: Service, session: str) -> None:
    assert run_hostile(service, session, "special_files.py")["exit_code"] == 0
    fork = service.post("/fork_session", {"id": session})
    assert fork.status_code == 200, fork.text
    body = fork.json()
    assert body["skipped"] == ["sock/listener"] and body["skipped_count"] == 1, body
    check = service.run(body["new_id"], "test -p pipe && stat -c %a pipe")
    assert check["exit_code"] == 0 and check["stdout"].strip() == "640", check


# --- trees changing under the walk ---------------------------------------------------------

def _while_running(svc: Service, session: str, hostile_name: str, seconds: int, call, times: int) -> list:
    """Issue `call()` `times` times while a hostile command runs in the session."""
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        command = pool.submit(run_hostile, svc, session, hostile_name, seconds)
        time.sleep(0.5)
        answers = [call() for _ in range(times)]
        assert command.result(timeout=120)["stdout"].strip() == "done"
    return answers


def test_listing_while_a_command_renames_directories_never_fails(service: Service, session: str) -> None:
    answers = _while_running(service, session, "rename_loop.sh", 5, lambda: service.get(
        "/list_files", params={"id": session}, timeout=30), 25)
    assert [r.status_code for r in answers] == [200] * len(answers), [r.text for r in answers if r.status_code != 200]


def test_forks_while_a_command_moves_a_directory_hold_it_exactly_once(service: Service, session: str) -> None:
    def fork() -> str:
        response = service.post("/fork_session", {"id": session}, timeout=120)
        assert response.status_code == 200, response.text
        return response.json()["new_id"]

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        command = pool.submit(run_hostile, service, session, "move_between_dirs.sh", 4)
        time.sleep(1.0)
        forks = [pool.submit(fork) for _ in range(3)]
        new_ids = [f.result(timeout=120) for f in forks]
        assert command.result(timeout=120)["stdout"].strip() == "done"
    for new_id in new_ids:
        copies = {p for p in paths_of(list_files(service, new_id)) if p.endswith("/item/data")}
        assert len(copies) == 1, (new_id, copies)


def test_deleting_a_session_while_a_command_fills_it(service: Service, session: str) -> None:
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        command = pool.submit(run_hostile, service, session, "create_dirs_loop.sh", 3)
        time.sleep(1.0)
        deleted = service.post("/delete_session", {"id": session}, timeout=120)
        assert deleted.status_code == 200, deleted.text
        command.result(timeout=120)
    assert service.get("/list_files", params={"id": session}).status_code == 404


def test_a_command_churning_files_is_not_killed_by_the_disk_watch(service: Service, session: str) -> None:
    result = run_hostile(service, session, "churn_files.sh", 6)
    assert result["exit_code"] == 0 and result["stdout"].strip() == "done", result


def test_jobs_beside_writes_into_the_same_session_never_fail(service: Service, session: str) -> None:
    run_hostile(service, session, "many_entries.py", 3000, "pad")  # so each job's walk takes a while
    stop = False

    def writer() -> int:
        count = 0
        while not stop:
            response = service.post("/write_file", {"id": session, "rel_path": "w/data.txt", "content": "x" * 50_000})
            assert response.status_code == 200, response.text
            count += 1
        return count

    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        writers = [pool.submit(writer) for _ in range(2)]
        try:
            statuses = [service.post("/run", {"id": session, "cmd": "true"}).status_code for _ in range(40)]
        finally:
            stop = True
        assert all(w.result(timeout=60) > 0 for w in writers)
    assert statuses == [200] * 40, statuses
