"""docs/api.md §7.1, the filesystem: sandboxed code sees its own session (writable) and a private
/tmp; the system is read-only; host secrets, other sessions and the session root are
invisible. Every attack goes through the HTTP API to the real processes."""

from __future__ import annotations

import base64
from pathlib import Path

from tests.security.support import new_session, run_hostile
from tests.support.service import Service


def test_session_and_tmp_are_writable_and_the_working_directory(service: Service, session: str):
    result = service.run(session, "pwd; echo a > mine.txt && cat mine.txt; echo b > /tmp/t && cat /tmp/t")
    assert result["stdout"] == "/session\na\nb\n", result
    assert service.get("/read_file", params={"id": session, "rel_path": "mine.txt"}).json()["content"] == "a\n"


def test_shadow_file_cannot_be_read(service: Service, session: str):
    result = run_hostile(service, session, "read_shadow.sh")
    assert "root:" not in result["stdout"], result
    real = Path("/etc/shadow")
    if real.exists() and real.read_text().strip():
        assert real.read_text() not in result["stdout"]


def test_root_home_is_invisible(service: Service, session: str):
    result = run_hostile(service, session, "read_root_home.sh")
    out = result["stdout"]
    assert "Permission denied" in out or "No such file" in out, result
    for name in (".bashrc", ".profile", ".gitconfig", ".npmrc"):
        host_file = Path("/root", name)
        if host_file.exists() and host_file.read_text().strip():
            assert host_file.read_text().strip() not in out, f"{host_file} leaked"
    for host_entry in Path("/root").iterdir():
        if host_entry.name not in (".pyenv",):  # the interpreter may live under /root; it is bound alone
            assert f" {host_entry.name}\n" not in out, f"/root/{host_entry.name} is listed"


def test_another_sessions_file_cannot_be_read_nor_found(service: Service, session: str):
    other = new_session(service, "victim")
    secret_name = f"secret-{other}.txt"
    service.write(other, secret_name, "the other user's secret\n")
    absolute = service.session_root / other / secret_name
    assert absolute.exists()  # the host path the attacker aims at is real

    result = run_hostile(service, session, "read_other_session.sh", absolute, secret_name, timeout=60)
    assert "the other user's secret" not in result["stdout"], result
    found = result["stdout"].split("--- find\n", 1)[1].split("--- end", 1)[0]
    assert found.strip() == "", f"find / located {found!r}"


def test_the_session_root_cannot_be_listed(service: Service, session: str):
    other = new_session(service, "victim")
    result = run_hostile(service, session, "list_session_root.sh", service.session_root)
    out = result["stdout"]
    assert other not in out, result
    assert "No such file or directory" in out.splitlines()[0], result  # the host path does not exist inside
    assert session not in out, result  # not even our own id: the session is bound alone at /session


def test_system_directories_are_read_only(service: Service, session: str):
    result = run_hostile(service, session, "write_system_dirs.sh")
    assert "WROTE" not in result["stdout"], result
    assert result["stdout"].count("denied") == 8
    python = service.run(session, "python3 -c 'open(\"/usr/lib/x\", \"w\")' 2>&1 | tail -1")
    assert "Read-only file system" in python["stdout"] or "Permission denied" in python["stdout"], python


def test_evaluated_code_is_confined_to_the_same_filesystem(service: Service, session: str):
    code = ("import os\n"
            "def probe():\n"
            "    out = {'cwd': os.getcwd(), 'root': sorted(os.listdir('/'))}\n"
            "    for path in ('/etc/shadow', '/root/.bashrc'):\n"
            "        try:\n"
            "            out[path] = open(path).read()[:20]\n"
            "        except OSError as exc:\n"
            "            out[path] = type(exc).__name__\n"
            "    try:\n"
            "        open('/usr/pwned', 'w')\n"
            "        out['usr'] = 'WROTE'\n"
            "    except OSError as exc:\n"
            "        out['usr'] = type(exc).__name__\n"
            "    return out\n")
    got = service.evaluate(code, "probe", [("", "None")], session=session)["case_results"][0]["got"]
    assert got["cwd"] == "/session"
    assert "root:" not in got["/etc/shadow"]
    assert got["/root/.bashrc"] in ("FileNotFoundError", "PermissionError")
    assert got["usr"] in ("OSError", "PermissionError")
    assert not {"work", "home", "srv", "var", "mnt"} & set(got["root"]), got["root"]


def test_files_made_in_the_sandbox_stay_usable_through_the_file_api(service: Service, session: str):
    assert run_hostile(service, session, "session_file_maker.sh")["stdout"] == "done\n"
    read = service.get("/read_file", params={"id": session, "rel_path": "made/deep/er/note.txt"})
    assert read.status_code == 200 and read.json()["content"] == "from the sandbox\n"
    private = service.get("/read_file", params={"id": session, "rel_path": "made/private.txt"})
    assert private.status_code == 200 and private.json()["content"] == "private\n"
    blob = service.get("/read_file", params={"id": session, "rel_path": "made/blob.bin", "encoding": "base64"})
    assert base64.b64decode(blob.json()["content"]) == b"\xff\xfebinary"
    inside = service.get("/read_file", params={"id": session, "rel_path": "locked/in.txt"})
    assert inside.status_code == 200 and inside.json()["content"] == "inside\n"

    written = service.post("/write_file", {"id": session, "rel_path": "made/private.txt", "content": "new"})
    assert written.status_code == 200
    assert service.post("/rename_file", {"id": session, "old_path": "made/deep/er/note.txt",
                                         "new_path": "note.txt"}).status_code == 200
    assert service.post("/delete_file", {"id": session, "rel_path": "locked/in.txt"}).status_code == 200
    forked = service.post("/fork_session", {"id": session})
    assert forked.status_code == 200, forked.text
    listing = service.get("/list_files", params={"id": forked.json()["new_id"]}).json()["files"]
    assert {"made/private.txt", "note.txt", "locked"} <= {f["path"] for f in listing}
    # ... and the next command of the session sees what the API did, as the sandbox user.
    assert service.run(session, "cat made/private.txt note.txt")["stdout"] == "newfrom the sandbox\n"


def test_a_scratch_evaluation_writes_nowhere_lasting(service: Service):
    code = "import os\ndef write():\n    open('left.txt', 'w').write('x')\n    return sorted(os.listdir('.'))\n"
    for _ in range(2):  # a fresh, empty scratch directory each time
        result = service.evaluate(code, "write", [("", "None")], session="scratch-never-created")
        assert result["case_results"][0]["got"] == ["left.txt"], result
