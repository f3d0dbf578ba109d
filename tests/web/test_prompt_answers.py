"""`GET /` and `/healthz` are answered by the web tier alone, promptly, whatever else its
connections and threads are doing (docs/api.md §2, §9): with hundreds of clients stalled in
the middle of their request head (slowloris), and with more long `/run` requests in
flight than the web tier has threads.

Loopback only, a bounded number of connections, every socket closed at the end. The
service is this module's own, so the load never slows the shared one.
"""

from __future__ import annotations

import concurrent.futures
import socket
import time
import uuid
from collections.abc import Iterator

import pytest
import requests

from tests.support.service import Service, start_service
from webapp.worker import HEAD_TIMEOUT, MAX_HEAD_BYTES, head_end, is_prompt

PROMPT = 5.0  # seconds within which the ping must answer
STALLED = 300


@pytest.fixture(scope="module")
def own_service() -> Iterator[Service]:
    svc = start_service()
    yield svc
    svc.stop()


def _timed_get(service: Service, path: str) -> float:
    started = time.monotonic()
    response = requests.get(service.url + path, timeout=PROMPT)
    assert response.status_code == 200, response.text
    return time.monotonic() - started


def _stall(service: Service, count: int) -> list[socket.socket]:
    """`count` connections that each send a request line and one header, then nothing."""
    port = int(service.env["PORT"])
    sockets = []
    for n in range(count):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(f"POST /run HTTP/1.1\r\nHost: stall-{n}\r\n".encode())
        sockets.append(s)
    return sockets


def test_slow_clients_do_not_delay_the_ping(own_service: Service) -> None:
    sockets = _stall(own_service, STALLED)
    try:
        time.sleep(1.0)  # let the workers take them all
        assert _timed_get(own_service, "/") < PROMPT
        assert _timed_get(own_service, "/healthz") < PROMPT
        # Ordinary requests are served too, not only the ping.
        sid = f"slow-{uuid.uuid4().hex[:8]}"
        own_service.write(sid, "a.txt", "x")
        assert own_service.run(sid, "cat a.txt")["stdout"] == "x"
    finally:
        for s in sockets[1:]:
            s.close()
    # The one left open is cut off once its head has taken too long.
    last = sockets[0]
    last.settimeout(HEAD_TIMEOUT + 5)
    try:
        answer = last.recv(4096)
    finally:
        last.close()
    assert answer == b"" or answer.startswith(b"HTTP/1.1 408"), answer


def test_the_ping_answers_while_more_long_runs_are_in_flight_than_threads(own_service: Service) -> None:
    """96 six-second commands occupy every request thread of both workers (2 x 32) and
    queue more behind them; the ping still answers at once."""
    sid = f"busy-{uuid.uuid4().hex[:8]}"
    own_service.write(sid, "a.txt", "x")
    with concurrent.futures.ThreadPoolExecutor(96) as pool:
        runs = [pool.submit(own_service.post, "/run", {"id": sid, "cmd": "sleep 6"}) for _ in range(96)]
        time.sleep(2.0)  # all 96 sent; the first ones are running
        assert _timed_get(own_service, "/") < PROMPT
        assert _timed_get(own_service, "/healthz") < PROMPT
        statuses = [r.result().status_code for r in runs]
    assert set(statuses) <= {200, 503}, statuses


def _exchange(service: Service, raw: bytes) -> bytes:
    """Send `raw` on a fresh connection and read until the server closes it."""
    with socket.create_connection(("127.0.0.1", int(service.env["PORT"])), timeout=10) as s:
        s.sendall(raw)
        received = b""
        while chunk := s.recv(65536):
            received += chunk
    return received


def test_pipelined_requests_are_all_answered(own_service: Service) -> None:
    """Bytes read past the first head (the next request) reach the parser in order."""
    raw = (b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"
           b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n"
           b"GET /nowhere HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    answer = _exchange(own_service, raw)
    assert answer.count(b"HTTP/1.1 200") == 2 and answer.count(b"HTTP/1.1 404") == 1, answer
    assert answer.index(b'"ping"') < answer.index(b'"status"')


def test_a_head_that_never_ends_is_431(own_service: Service) -> None:
    """Header lines past `MAX_HEAD_BYTES` without the blank line: refused, not buffered on."""
    lines = b"".join(b"X-Pad-%d: %s\r\n" % (n, b"a" * 100) for n in range(MAX_HEAD_BYTES // 100 + 10))
    answer = _exchange(own_service, b"GET / HTTP/1.1\r\n" + lines)
    assert answer.startswith(b"HTTP/1.1 431") and b'"detail"' in answer


@pytest.mark.parametrize("head,prompt", [
    (b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", True),
    (b"HEAD /healthz?x=1 HTTP/1.1\r\n\r\n", True),
    (b"GET /readyz HTTP/1.1\r\n\r\n", False),
    (b"POST / HTTP/1.1\r\n\r\n", False),
    (b"GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\n", False),
    (b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", False),
    (b"GET / HTTP/1.1\r\nContent-Length: 0\r\n\r\n", True),
    (b"garbage\r\n\r\n", False),
])
def test_only_bodyless_pings_take_the_prompt_threads(head: bytes, prompt: bool) -> None:
    assert is_prompt(head) is prompt and head_end(head)
