"""Links planted inside the box and followed by the privileged side: the failure of Judge0
(CVE-2024-28185), where a symlink made by the sandboxed program led the service, as root,
to write a file of the attacker's choosing on the host.

Sandboxed code can make any link it likes in its session. Everything privileged that later
touches the session (the file API, fork, listing, the sandbox's own disk-usage walk and
session bind) must treat a link as a link and never reach the host through it."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from tests.security.support import run_hostile
from tests.support.service import Service


@pytest.fixture
def host_dir():
    """A directory of the host, outside the session root, that the attacker aims at."""
    path = Path(tempfile.mkdtemp(prefix="repl-judge0-"))
    (path / "target.txt").write_text("host file, must stay intact\n")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def planted(service: Service, session: str, host_dir: Path) -> str:
    result = run_hostile(service, session, "plant_symlinks.sh", host_dir)
    assert result["stdout"] == "planted\n", result
    return session


def get(service: Service, session: str, rel_path: str, **params: str):
    return service.get("/read_file", params={"id": session, "rel_path": rel_path, **params})


def test_reading_through_planted_links_is_refused(service: Service, planted: str):
    for rel_path in ("passwd_link", "host_file", "host_dir/target.txt", "root_link/etc/passwd", "sub/up/etc/passwd"):
        response = get(service, planted, rel_path)
        assert response.status_code == 400, (rel_path, response.text)
        assert "root:" not in response.text and "host file" not in response.text


def test_writing_through_planted_links_changes_nothing_on_the_host(service: Service, planted: str, host_dir: Path):
    attempts = [("host_file", "pwned"), ("host_dir/pwned.txt", "pwned"), ("host_dir/target.txt", "pwned"),
                ("sub/up/tmp/pwned.txt", "pwned")]
    for rel_path, content in attempts:
        response = service.post("/write_file", {"id": planted, "rel_path": rel_path, "content": content})
        assert response.status_code == 400, (rel_path, response.text)
    assert (host_dir / "target.txt").read_text() == "host file, must stay intact\n"
    assert sorted(p.name for p in host_dir.iterdir()) == ["target.txt"]


def test_deleting_and_renaming_through_planted_links_changes_nothing(service: Service, planted: str,
                                                                    host_dir: Path):
    assert service.post("/delete_file", {"id": planted, "rel_path": "host_dir/target.txt"}).status_code == 400
    moved = service.post("/rename_file", {"id": planted, "old_path": "host_dir/target.txt", "new_path": "stolen.txt"})
    assert moved.status_code == 400, moved.text
    into = service.post("/rename_file", {"id": planted, "old_path": "hello.txt", "new_path": "host_dir/hello.txt"})
    assert into.status_code == 400, into.text
    assert sorted(p.name for p in host_dir.iterdir()) == ["target.txt"]
    # Deleting the link itself may be allowed or refused; it never touches the target.
    assert service.post("/delete_file", {"id": planted, "rel_path": "host_file"}).status_code in (200, 400)
    assert (host_dir / "target.txt").read_text() == "host file, must stay intact\n"


def test_listing_and_forking_keep_links_as_links(service: Service, planted: str, host_dir: Path):
    listing = {f["path"]: f for f in service.get("/list_files", params={"id": planted}).json()["files"]}
    for link in ("passwd_link", "host_dir", "host_file", "root_link", "sub/up"):
        assert listing[link]["kind"] == "symlink", listing[link]
    assert not any(path.startswith(("host_dir/", "root_link/", "sub/up/")) for path in listing), "a link was followed"
    forked = service.post("/fork_session", {"id": planted}).json()["new_id"]
    copied = {f["path"]: f["kind"] for f in service.get("/list_files", params={"id": forked}).json()["files"]}
    assert copied["host_dir"] == "symlink" and copied["passwd_link"] == "symlink"
    assert get(service, forked, "host_dir/target.txt").status_code == 400
    assert sorted(p.name for p in host_dir.iterdir()) == ["target.txt"]


def test_the_next_job_binds_the_session_not_a_link(service: Service, planted: str):
    """The sandbox's init (root) binds the session and walks it for its disk usage: a link
    in the session must not take either anywhere else."""
    result = service.run(planted, "pwd; ls host_dir/ 2>&1; ls sub/up/ | head -3")
    lines = result["stdout"].splitlines()
    assert lines[0] == "/session", result
    assert "target.txt" not in result["stdout"], "the host directory is reachable from the sandbox"
    assert "No such file or directory" in lines[1], result
    # Had the init's disk-usage walk followed root_link, the whole host would count against the
    # session's quota and this write would be refused with 413.
    after = service.post("/write_file", {"id": planted, "rel_path": "after.txt", "content": "x" * 4096})
    assert after.status_code == 200, after.text
