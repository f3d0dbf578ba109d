"""The logs of both processes: one timestamp format, JSON on request, and a request id
that ties the web tier's access line to the supervisor's job line.

Against the real processes: a service started with REPL_LOG_FORMAT=json for the JSON
tests, the shared (text) service for the timestamp tests.
"""

from __future__ import annotations

import datetime
import json
import re
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from tests.support.service import Service, start_service

TS_TEXT = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
TEXT_LINE = re.compile(rf"^({TS_TEXT}) (web|supervisor) [A-Z]+ ")
HEX_ID = re.compile(r"[0-9a-f]{32}")


@pytest.fixture(scope="module")
def json_service() -> Iterator[Service]:
    svc = start_service({"REPL_LOG_FORMAT": "json"})
    yield svc
    svc.stop()


def entries(service: Service, name: str) -> list[dict[str, Any]]:
    """Every line of the process's log, parsed; fails on the first line that is not JSON."""
    parsed = []
    for number, line in enumerate(service.log(name).splitlines(), 1):
        try:
            entry = json.loads(line)
        except ValueError:
            raise AssertionError(f"{name} log line {number} is not JSON: {line[:500]!r}") from None
        assert isinstance(entry, dict), line
        parsed.append(entry)
    return parsed


def wait_for_entry(service: Service, name: str, match: Callable[[dict[str, Any]], bool],
                   timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        found = [entry for entry in entries(service, name) if match(entry)]
        if found:
            return found[-1]
        if time.monotonic() > deadline:
            raise AssertionError(f"no matching entry in the {name} log:\n{service.log(name)[-3000:]}")
        time.sleep(0.05)


def raw_get(service: Service, path: str, header_value: bytes) -> tuple[int, dict[str, str]]:
    """GET with an `X-Request-ID` of arbitrary bytes (requests refuses to send most of them)."""
    with socket.create_connection(("127.0.0.1", int(service.env["PORT"])), timeout=10) as conn:
        conn.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nX-Request-ID: " + header_value
                     + b"\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in head[1:] if ": " in line)
    return int(head[0].split()[1]), {k.lower(): v for k, v in headers.items()}


# --- JSON -------------------------------------------------------------------------------

def test_a_json_line_has_the_documented_keys(json_service: Service) -> None:
    sid = f"logs-{uuid.uuid4().hex[:12]}"
    json_service.write(sid, "a.txt", "x")
    access = wait_for_entry(json_service, "web", lambda e: e.get("session") == sid)
    assert {"ts", "level", "logger", "msg"} <= set(access), access
    assert re.fullmatch(TS_TEXT, access["ts"]), access
    assert access["level"] == "INFO" and access["logger"] == "webapp.access", access
    assert access["method"] == "POST" and access["path"] == "/write_file" and access["status"] == 200, access
    assert isinstance(access["duration_ms"], (int, float)), access


def test_the_request_id_of_the_response_is_on_the_access_line_and_the_job_line(json_service: Service) -> None:
    sid = f"logs-{uuid.uuid4().hex[:12]}"
    json_service.write(sid, "a.txt", "x")
    response = json_service.post("/run", {"id": sid, "cmd": "cat a.txt"})
    assert response.status_code == 200, response.text
    request_id = response.headers.get("X-Request-ID", "")
    assert HEX_ID.fullmatch(request_id), response.headers
    access = wait_for_entry(json_service, "web", lambda e: e.get("request_id") == request_id)
    assert access["path"] == "/run" and access["session"] == sid, access
    job = wait_for_entry(json_service, "supervisor", lambda e: e.get("request_id") == request_id)
    assert job["logger"] == "supervisor.jobs" and job["level"] == "INFO", job
    assert job["kind"] == "run" and job["session"] == sid and job["outcome"] == "ok", job
    assert isinstance(job["duration_ms"], (int, float)) and job["exit_code"] == 0, job
    assert "cat a.txt" not in json.dumps(job), "the job line must not hold the command"


def test_each_operation_has_one_job_line(json_service: Service) -> None:
    sid = f"logs-{uuid.uuid4().hex[:12]}"
    secret = f"content-{uuid.uuid4().hex}"
    response = json_service.post("/write_file", {"id": sid, "rel_path": "s.txt", "content": secret})
    request_id = response.headers["X-Request-ID"]
    wait_for_entry(json_service, "supervisor", lambda e: e.get("request_id") == request_id)
    time.sleep(0.2)
    lines = [e for e in entries(json_service, "supervisor") if e.get("request_id") == request_id]
    assert len(lines) == 1 and lines[0]["kind"] == "write_file" and lines[0]["outcome"] == "ok", lines
    assert secret not in json_service.log("supervisor"), "file contents must never be logged"


def test_a_client_chosen_request_id_is_kept_end_to_end(json_service: Service) -> None:
    chosen = f"client-{uuid.uuid4().hex[:8]}.1"
    response = requests.post(json_service.url + "/evaluate_code", json={
        "id": "scratch-logs", "code": "def f(x):\n    return x", "entry_point": "f",
        "io_cases": [{"input": "1", "output": "1"}, {"input": "2", "output": "3"}]},
        headers={"X-Request-ID": chosen}, timeout=60)
    assert response.status_code == 200 and response.headers["X-Request-ID"] == chosen, response.headers
    wait_for_entry(json_service, "web", lambda e: e.get("request_id") == chosen)
    job = wait_for_entry(json_service, "supervisor", lambda e: e.get("request_id") == chosen)
    assert job["kind"] == "evaluate" and job["outcome"] == "failed", job
    assert job["cases"] == 2 and job["passed"] == 1, job


def test_a_timed_out_run_logs_outcome_timeout(json_service: Service) -> None:
    sid = f"logs-{uuid.uuid4().hex[:12]}"
    json_service.write(sid, "a.txt", "x")
    response = json_service.post("/run", {"id": sid, "cmd": "sleep 5", "timeout": 0.3})
    assert response.status_code == 200 and response.json()["timed_out"] is True, response.text
    request_id = response.headers["X-Request-ID"]
    job = wait_for_entry(json_service, "supervisor", lambda e: e.get("request_id") == request_id)
    assert job["kind"] == "run" and job["outcome"] == "timeout", job


def test_a_refused_operation_logs_its_error_code(json_service: Service) -> None:
    response = json_service.post("/run", {"id": f"missing-{uuid.uuid4().hex[:8]}", "cmd": "true"})
    assert response.status_code == 400, response.text
    request_id = response.headers["X-Request-ID"]
    job = wait_for_entry(json_service, "supervisor", lambda e: e.get("request_id") == request_id)
    assert job["kind"] == "run" and job["outcome"] == "bad_request", job


@pytest.mark.parametrize("hostile", [
    b"abc\nforged-line",               # a newline: a second log line
    b"abc\rforged-line",               # a bare carriage return
    b"abc\x1b[2Jforged-line",          # a terminal escape
    b"forged-line" + b"A" * 10_000,    # 10 kB
    b"forged-line" + b"B" * 4_000,     # long, but under gunicorn's header limit: reaches the app
    b"forged-line \"} {\"level\": \"CRITICAL\"",  # JSON-looking text
    "forged-line-\u00e9".encode(),     # not ASCII
], ids=["newline", "carriage-return", "escape", "10kB", "4kB", "json", "non-ascii"])
def test_a_malicious_request_id_is_never_logged_raw(json_service: Service, hostile: bytes) -> None:
    before = len(json_service.log("web"))
    status, headers = raw_get(json_service, "/healthz", hostile)
    if status == 200:  # gunicorn passed it on: the app replaced it with an id of its own
        assert HEX_ID.fullmatch(headers.get("x-request-id", "")), headers
        wait_for_entry(json_service, "web", lambda e: e.get("request_id") == headers["x-request-id"])
    else:  # gunicorn refused the header itself
        assert status in (400, 431), status
        time.sleep(0.2)
    for name in ("web", "supervisor"):
        entries(json_service, name)  # every line still parses
    written = json_service.log("web")[before:]
    assert "forged-line" not in written, written[-2000:]
    assert "forged-line" not in json_service.log("supervisor")


def test_every_line_of_both_processes_is_json_from_start_to_shutdown() -> None:
    svc = start_service({"REPL_LOG_FORMAT": "json"})
    try:
        sid = f"logs-{uuid.uuid4().hex[:12]}"
        svc.write(sid, "a.txt", "x")
        assert svc.post("/run", {"id": sid, "cmd": "echo hi; echo err >&2; sleep 3", "timeout": 0.3}).status_code == 200
        assert svc.get("/read_file", params={"id": sid, "rel_path": "missing"}).status_code == 404
        assert svc.post("/run", {"cmd": "true"}).status_code == 422
        assert requests.post(svc.url + "/write_file", data=b"{not json", timeout=60,
                             headers={"Content-Type": "application/json"}).status_code == 422
        assert svc.get("/metrics").status_code == 200
        svc.evaluate("def f(:\n", "f", [("1", "1")])
    finally:
        svc.stop()
    web, supervisor = entries(svc, "web"), entries(svc, "supervisor")
    assert any(e["logger"].startswith("gunicorn") for e in web), "gunicorn's own lines are JSON too"
    assert any(e["msg"] == "Shutting down: Master" for e in web), web[-5:]
    assert any(e["msg"] == "supervisor stopped" for e in supervisor), supervisor[-5:]
    assert all(re.fullmatch(TS_TEXT, e["ts"]) for e in web + supervisor)


# --- text -------------------------------------------------------------------------------

def test_text_lines_of_gunicorn_the_app_and_the_supervisor_share_one_timestamp_format(service: Service) -> None:
    service.get("/healthz")
    web = service.log("web").splitlines()
    gunicorn_lines = [line for line in web if "Booting worker with pid" in line or "Listening at:" in line]
    access_lines = [line for line in web if " GET /healthz 200 " in line]
    supervisor_lines = [line for line in service.log("supervisor").splitlines() if "supervisor ready on" in line]
    assert gunicorn_lines and access_lines and supervisor_lines, (web[-10:], service.log("supervisor")[-2000:])
    now = datetime.datetime.now(datetime.UTC)
    for line in gunicorn_lines + access_lines + supervisor_lines:
        match = TEXT_LINE.match(line)
        assert match, f"not `<ISO 8601 UTC ms> <process> <LEVEL> `: {line!r}"
        stamp = datetime.datetime.strptime(match.group(1), "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.UTC)
        assert abs((now - stamp).total_seconds()) < 3600, f"the timestamp is not UTC: {line!r}"


def test_text_lines_carry_the_request_id_on_both_sides(service: Service) -> None:
    sid = f"logs-{uuid.uuid4().hex[:12]}"
    response = service.post("/write_file", {"id": sid, "rel_path": "a.txt", "content": "x"})
    request_id = response.headers["X-Request-ID"]
    deadline = time.monotonic() + 10
    tag = f"request_id={request_id}"
    while not (tag in service.log("web") and tag in service.log("supervisor")):
        assert time.monotonic() < deadline, (service.log("web")[-2000:], service.log("supervisor")[-2000:])
        time.sleep(0.05)
    job = next(line for line in service.log("supervisor").splitlines() if f"request_id={request_id}" in line)
    assert TEXT_LINE.match(job) and f" job kind=write_file session={sid} request_id={request_id} " in job, job
    assert re.search(r" duration_ms=\d+(\.\d)? outcome=ok$", job), job


def test_user_code_cannot_write_into_the_supervisor_log(json_service: Service) -> None:
    """Modules that print when imported (`this`, `__hello__`, `unittest.__main__`)
    must not reach the supervisor's stderr, where every line is JSON."""
    code = "import this\nimport __hello__\nimport unittest.__main__\ndef f():\n    return 1\n"
    body = json_service.evaluate(code, "f", [("", "1")] * 2)
    assert len(body["case_results"]) == 2, body
    wait_for_entry(json_service, "supervisor", lambda e: e.get("kind") == "evaluate")
    log = json_service.log("supervisor")
    assert "Zen of Python" not in log and "Hello world" not in log and "Ran 1 test" not in log, log[-2000:]
