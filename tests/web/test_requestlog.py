"""One line per request in the web log: method, path, status, duration, session id,
request id."""

from __future__ import annotations

import re
import time
import uuid

import requests

from tests.support.service import Service

RID = "[0-9a-f]{32}"  # a request id the web tier made


def _wait_for_line(service: Service, pattern: str, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = [line for line in service.log("web").splitlines() if re.search(pattern, line)]
        if lines:
            return lines[-1]
        time.sleep(0.05)
    raise AssertionError(f"no line matching {pattern!r} in the web log:\n{service.log('web')[-3000:]}")


def test_a_request_logs_method_path_status_duration_and_session(service: Service) -> None:
    sid = f"log-{uuid.uuid4().hex[:12]}"
    service.write(sid, "a.txt", "x")
    line = _wait_for_line(service, rf"session={sid}\b")
    assert re.search(rf" POST /write_file 200 \d+\.\dms session={sid} request_id={RID}$", line), line


def test_errors_are_logged_with_their_status(service: Service) -> None:
    sid = f"log-{uuid.uuid4().hex[:12]}"
    assert service.get("/read_file", params={"id": sid, "rel_path": "missing.txt"}).status_code == 404
    _wait_for_line(service, rf" GET /read_file 404 \d+\.\dms session={sid} request_id={RID}$")
    assert service.post("/run", {"cmd": "true"}).status_code == 422
    _wait_for_line(service, rf" POST /run 422 \d+\.\dms session=- request_id={RID}$")


def test_each_request_is_logged_once(service: Service) -> None:
    sid = f"log-{uuid.uuid4().hex[:12]}"
    for _ in range(3):
        service.get("/list_files", params={"id": sid})
    _wait_for_line(service, rf"session={sid} ")
    time.sleep(0.2)
    assert len(re.findall(rf"GET /list_files 404 \S+ session={sid} request_id={RID}\n", service.log("web"))) == 3


def test_a_hostile_path_cannot_forge_a_log_line(service: Service) -> None:
    marker = uuid.uuid4().hex[:8]
    response = requests.get(f"{service.url}/nothing-{marker}%0Aforged%20GET%20/%20200", timeout=10)
    assert response.status_code == 404
    line = _wait_for_line(service, rf"/nothing-{marker}")
    assert "\\nforged GET / 200 " in line and re.search(rf"session=- request_id={RID}$", line), line
    assert not any(entry.startswith("forged") for entry in service.log("web").splitlines())
