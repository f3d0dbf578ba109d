"""Traversal and symbolic-link escapes through the file API (docs/api.md §6).

Links are made by sandboxed commands (`/run ln -s`), the way an attacker would; every
operation through them must fail with 400 and change nothing outside the session.
"""

from __future__ import annotations

import pytest

from tests.support.service import Service

TRAVERSALS = ["../escape.txt", "/etc/passwd", "a/../../escape.txt", "a/b/../../../x", "..", "a\x00b", "x" * 5000]


@pytest.mark.parametrize("rel_path", TRAVERSALS, ids=lambda p: repr(p[:20]))
def test_traversal_is_refused_for_every_operation(service: Service, session_id: str, rel_path: str):
    calls = [
        service.get("/read_file", params={"id": session_id, "rel_path": rel_path}),
        service.post("/write_file", {"id": session_id, "rel_path": rel_path, "content": "x"}),
        service.post("/delete_file", {"id": session_id, "rel_path": rel_path}),
        service.post("/rename_file", {"id": session_id, "old_path": "hello.txt", "new_path": rel_path}),
        service.post("/rename_file", {"id": session_id, "old_path": rel_path, "new_path": "y"}),
    ]
    for response in calls:
        assert response.status_code == 400, response.text
        assert response.json()["detail"]
    assert not (service.session_root / "escape.txt").exists()
    assert not (service.session_root.parent / "escape.txt").exists()


@pytest.fixture
def outside(service: Service, tmp_path_factory):
    """A file outside the session root that links will point at."""
    target = tmp_path_factory.mktemp("outside") / "secret.txt"
    target.write_text("TOP SECRET")
    return target


def test_reading_through_a_link_is_refused(service: Service, session_id: str, outside):
    service.run(session_id, f"ln -s {outside} link.txt && ln -s {outside.parent} linkdir && ln -s ../.. up")
    for rel in ["link.txt", "linkdir/secret.txt", "up/etc/passwd"]:
        response = service.get("/read_file", params={"id": session_id, "rel_path": rel})
        assert response.status_code == 400, (rel, response.text)
        assert "TOP SECRET" not in response.text and "link" in response.json()["detail"]


def test_writing_through_a_link_changes_nothing_outside(service: Service, session_id: str, outside):
    service.run(session_id, f"ln -s {outside} link.txt && ln -s {outside.parent} linkdir")
    for rel in ["link.txt", "linkdir/secret.txt", "linkdir/new.txt"]:
        response = service.post("/write_file", {"id": session_id, "rel_path": rel, "content": "pwned"})
        assert response.status_code == 400, (rel, response.text)
    assert outside.read_text() == "TOP SECRET"
    assert not (outside.parent / "new.txt").exists()


def test_deleting_and_renaming_through_links_changes_nothing_outside(service: Service, session_id: str, outside):
    service.run(session_id, f"ln -s {outside} link.txt && ln -s {outside.parent} linkdir")
    assert service.post("/delete_file", {"id": session_id, "rel_path": "linkdir/secret.txt"}).status_code == 400
    assert service.post("/delete_file", {"id": session_id, "rel_path": "link.txt"}).status_code == 400
    assert service.post("/rename_file", {"id": session_id, "old_path": "linkdir/secret.txt",
                                         "new_path": "stolen.txt"}).status_code == 400
    assert service.post("/rename_file", {"id": session_id, "old_path": "hello.txt",
                                         "new_path": "linkdir/planted.txt"}).status_code == 400
    assert service.post("/rename_file", {"id": session_id, "old_path": "link.txt",
                                         "new_path": "moved.txt"}).status_code == 400
    assert outside.read_text() == "TOP SECRET"
    assert not (outside.parent / "planted.txt").exists()


def test_a_link_inside_the_session_can_be_deleted(service: Service, session_id: str):
    service.run(session_id, "ln -s hello.txt alias")
    assert service.post("/delete_file", {"id": session_id, "rel_path": "alias"}).status_code == 200
    assert service.get("/read_file", params={"id": session_id, "rel_path": "hello.txt"}).status_code == 200


def test_fork_copies_links_as_links_without_following(service: Service, session_id: str, outside):
    service.run(session_id, f"ln -s {outside} link.txt && ln -s {outside.parent} linkdir")
    new = service.post("/fork_session", {"id": session_id}).json()["new_id"]
    copy = service.session_root / new
    assert (copy / "link.txt").is_symlink() and (copy / "linkdir").is_symlink()
    assert service.get("/read_file", params={"id": new, "rel_path": "link.txt"}).status_code == 400
    assert outside.read_text() == "TOP SECRET"


def test_a_fifo_cannot_hang_the_store(service: Service, session_id: str):
    service.run(session_id, "mkfifo pipe")
    response = service.get("/read_file", params={"id": session_id, "rel_path": "pipe"}, timeout=10)
    assert response.status_code == 400 and "regular file" in response.json()["detail"]
    assert service.post("/fork_session", {"id": session_id}).status_code == 200
