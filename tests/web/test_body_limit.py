"""`REPL_MAX_BODY_BYTES`: a larger body is refused with 413 and a clear detail, whether it
comes with a Content-Length or chunked, and nothing of it is written (the `guarded`
service runs with a 64 KiB maximum)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
import requests

from tests.support.service import Service
from tests.web.conftest import MAX_BODY, TOKEN

HEADERS = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}


def _write_body(session: str, rel_path: str, size: int) -> bytes:
    """A write_file request body of exactly `size` bytes."""
    empty = json.dumps({"id": session, "rel_path": rel_path, "content": ""})
    body = json.dumps({"id": session, "rel_path": rel_path, "content": "x" * (size - len(empty))}).encode()
    assert len(body) == size
    return body


def _chunks(body: bytes, size: int = 8192) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start:start + size]


def _send(service: Service, body: bytes, chunked: bool, session: requests.Session | None = None) -> requests.Response:
    post = (session or requests).post
    return post(service.url + "/write_file", data=_chunks(body) if chunked else body, headers=HEADERS, timeout=30)


@pytest.fixture
def sid(guarded: Service) -> str:
    sid = f"body-{uuid.uuid4().hex[:8]}"
    guarded.write(sid, "keep.txt", "kept\n")
    return sid


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize("size", [MAX_BODY + 1, 4 * MAX_BODY, 16 << 20])
def test_a_body_over_the_maximum_is_refused_and_nothing_is_written(guarded: Service, sid: str, chunked: bool,
                                                                    size: int) -> None:
    response = _send(guarded, _write_body(sid, "big.txt", size), chunked)
    assert response.status_code == 413, response.text
    assert response.json() == {"detail": f"request body is larger than the configured maximum of {MAX_BODY} bytes"}
    files = guarded.get("/list_files", params={"id": sid}).json()["files"]
    assert [f["path"] for f in files] == ["keep.txt"]
    assert not (guarded.session_root / sid / "big.txt").exists()


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_body_of_exactly_the_maximum_is_accepted(guarded: Service, sid: str, chunked: bool) -> None:
    response = _send(guarded, _write_body(sid, "max.txt", MAX_BODY), chunked)
    assert response.status_code == 200, response.text
    content = guarded.get("/read_file", params={"id": sid, "rel_path": "max.txt"}).json()["content"]
    assert len(content) == MAX_BODY - len(json.dumps({"id": sid, "rel_path": "max.txt", "content": ""}))


def test_every_post_endpoint_has_the_maximum(guarded: Service) -> None:
    body = json.dumps({"id": "x", "code": "#" * MAX_BODY, "entry_point": "f", "io_cases": []}).encode()
    for path in ("/evaluate_code", "/run", "/create_session"):
        response = requests.post(guarded.url + path, data=body, headers=HEADERS, timeout=30)
        assert response.status_code == 413, (path, response.text)


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_the_connection_stays_usable_after_a_413(guarded: Service, sid: str, chunked: bool) -> None:
    """The web tier reads the rest of a refused body up to twice the maximum, so a client
    reusing its keep-alive connection is not reset on its next request."""
    with requests.Session() as session:
        for size in (MAX_BODY + 1, 2 * MAX_BODY):
            assert _send(guarded, _write_body(sid, "big.txt", size), chunked, session).status_code == 413
            assert _send(guarded, _write_body(sid, "small.txt", 100), chunked, session).status_code == 200
    assert (guarded.session_root / sid / "small.txt").exists()
    assert not (guarded.session_root / sid / "big.txt").exists()
