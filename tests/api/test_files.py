"""File and session endpoints against the real service (docs/api.md §2, §3, §6)."""

from __future__ import annotations

import base64
import uuid

from tests.support.service import Service


def new_id() -> str:
    return f"f-{uuid.uuid4().hex[:12]}"


def test_ping_is_answered_by_the_web_tier(service: Service):
    response = service.get("/")
    assert response.status_code == 200 and response.json() == "ping"


def test_write_creates_session_and_nested_dirs_then_read(service: Service):
    sid = new_id()
    response = service.post("/write_file", {"id": sid, "rel_path": "a/b/c.txt", "content": "héllo\n"})
    assert response.json() == {"success": True, "id": sid, "rel_path": "a/b/c.txt"}
    read = service.get("/read_file", params={"id": sid, "rel_path": "a/b/c.txt"})
    assert read.json() == {"content": "héllo\n", "id": sid, "rel_path": "a/b/c.txt"}
    assert (service.session_root / sid / "a" / "b" / "c.txt").read_text() == "héllo\n"


def test_overwrite_replaces_content(service: Service, session_id: str):
    service.write(session_id, "hello.txt", "second")
    assert service.get("/read_file", params={"id": session_id, "rel_path": "hello.txt"}).json()["content"] == "second"


def test_base64_round_trip_of_binary(service: Service, session_id: str):
    blob = bytes(range(256)) * 4
    body = {"id": session_id, "rel_path": "bin.dat", "content": base64.b64encode(blob).decode(), "encoding": "base64"}
    assert service.post("/write_file", body).status_code == 200
    read = service.get("/read_file", params={"id": session_id, "rel_path": "bin.dat", "encoding": "base64"})
    assert base64.b64decode(read.json()["content"]) == blob


def test_reading_binary_as_text_names_the_remedy(service: Service, session_id: str):
    service.post("/write_file", {"id": session_id, "rel_path": "b.bin",
                                 "content": base64.b64encode(b"\xff\xfe").decode(), "encoding": "base64"})
    response = service.get("/read_file", params={"id": session_id, "rel_path": "b.bin"})
    assert response.status_code == 400 and "base64" in response.json()["detail"]


def test_bad_base64_is_400_and_writes_nothing(service: Service, session_id: str):
    response = service.post("/write_file",
                            {"id": session_id, "rel_path": "x.bin", "content": "@@@", "encoding": "base64"})
    assert response.status_code == 400 and "base64" in response.json()["detail"]
    assert not (service.session_root / session_id / "x.bin").exists()


def test_missing_file_and_session_are_404(service: Service, session_id: str):
    for path, params in [("/read_file", {"id": session_id, "rel_path": "nope.txt"}),
                         ("/read_file", {"id": new_id(), "rel_path": "a"}),
                         ("/list_files", {"id": new_id()})]:
        response = service.get(path, params=params)
        assert response.status_code == 404, (path, response.text)
        assert isinstance(response.json()["detail"], str)
    for path, body in [("/delete_file", {"id": session_id, "rel_path": "nope"}),
                       ("/rename_file", {"id": session_id, "old_path": "nope", "new_path": "x"}),
                       ("/fork_session", {"id": new_id()}),
                       ("/delete_session", {"id": new_id()}),
                       ("/delete_file", {"id": new_id(), "rel_path": "a"})]:
        response = service.post(path, body)
        assert response.status_code == 404, (path, response.text)


def test_delete_file_and_directory(service: Service, session_id: str):
    service.write(session_id, "d/e/f.txt", "x")
    assert service.post("/delete_file", {"id": session_id, "rel_path": "hello.txt"}).json()["success"] is True
    assert service.post("/delete_file", {"id": session_id, "rel_path": "d"}).status_code == 200
    assert service.get("/list_files", params={"id": session_id}).json()["files"] == []


def test_rename_moves_into_new_directories(service: Service, session_id: str):
    response = service.post("/rename_file", {"id": session_id, "old_path": "hello.txt", "new_path": "x/y/z.txt"})
    assert response.json() == {"success": True, "id": session_id, "old_path": "hello.txt", "new_path": "x/y/z.txt"}
    assert service.get("/read_file", params={"id": session_id, "rel_path": "x/y/z.txt"}).json()["content"] == "hello\n"
    assert service.get("/read_file", params={"id": session_id, "rel_path": "hello.txt"}).status_code == 404


def test_list_files_shows_kinds_and_never_follows_links(service: Service, session_id: str):
    service.write(session_id, "dir/inner.txt", "12345")
    service.run(session_id, "ln -s /etc linked_etc && ln -s hello.txt alias")
    files = service.get("/list_files", params={"id": session_id}).json()
    assert files["id"] == session_id
    by_path = {f["path"]: f for f in files["files"]}
    assert by_path["dir"]["kind"] == "dir"
    assert by_path["dir/inner.txt"] == {"path": "dir/inner.txt", "size": 5, "kind": "file"}
    assert by_path["linked_etc"]["kind"] == "symlink" and by_path["alias"]["kind"] == "symlink"
    assert not any(p.startswith("linked_etc/") for p in by_path)


def test_create_and_delete_session(service: Service):
    created = service.post("/create_session", {}).json()["id"]
    assert uuid.UUID(created).version == 4
    named = new_id()
    assert service.post("/create_session", {"id": named}).json() == {"id": named}
    assert service.post("/create_session", {"id": named}).json() == {"id": named}  # idempotent
    assert service.get("/list_files", params={"id": named}).json() == {"id": named, "files": [], "truncated": False}
    assert service.post("/delete_session", {"id": named}).json() == {"success": True, "id": named}
    assert service.get("/list_files", params={"id": named}).status_code == 404
    assert not (service.session_root / named).exists()


def test_fork_is_a_full_copy_with_links_kept(service: Service, session_id: str):
    service.write(session_id, "sub/data.txt", "data")
    service.run(session_id, "ln -s sub/data.txt link && ln -s /etc/passwd outside")
    new = service.post("/fork_session", {"id": session_id}).json()["new_id"]
    assert uuid.UUID(new).version == 4
    original = service.get("/list_files", params={"id": session_id}).json()["files"]
    copied = service.get("/list_files", params={"id": new}).json()["files"]
    assert copied == original
    assert (service.session_root / new / "outside").is_symlink()
    service.write(new, "sub/data.txt", "changed")
    assert service.get("/read_file", params={"id": session_id, "rel_path": "sub/data.txt"}).json()["content"] == "data"
    # the fork is usable by commands too
    assert service.run(new, "cat sub/data.txt")["stdout"] == "changed"


def test_files_written_by_commands_are_usable_through_the_api(service: Service, session_id: str):
    service.run(session_id, "mkdir -p out && echo made > out/r.txt && chmod 600 out/r.txt")
    assert service.get("/read_file", params={"id": session_id, "rel_path": "out/r.txt"}).json()["content"] == "made\n"
    service.write(session_id, "out/r.txt", "overwritten")
    assert service.run(session_id, "cat out/r.txt")["stdout"] == "overwritten"
    assert service.post("/delete_file", {"id": session_id, "rel_path": "out"}).status_code == 200


def test_writes_by_the_api_are_editable_by_commands(service: Service, session_id: str):
    result = service.run(session_id, "echo more >> hello.txt && mkdir -p newdir && touch newdir/x && cat hello.txt")
    assert result["exit_code"] == 0 and result["stdout"] == "hello\nmore\n", result


def test_unknown_routes_and_methods_answer_json(service: Service):
    missing = service.get("/no/such/route")
    assert missing.status_code == 404 and "detail" in missing.json()
    wrong = service.get("/run")
    assert wrong.status_code == 405 and "detail" in wrong.json() and "POST" in wrong.headers["Allow"]
