"""Unit tests of repl_client against a canned local HTTP server (no real service).

They check the client's own behaviour: request shapes, reply parsing, the
status-to-exception table, retries and their bounds, timeouts, auth header and
lifecycle. The fake server answers from a script per (method, path) and
records every request it receives, so retries can be counted.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import email.utils
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from repl_client import (
    BadRequest,
    CaseResult,
    ConnectionFailed,
    EvaluationResult,
    FileEntry,
    InvalidResponse,
    NotFound,
    OutcomeUnknown,
    PayloadTooLarge,
    ReplClient,
    ReplError,
    RetryPolicy,
    RunResult,
    ServerError,
    ServiceUnavailable,
    Unauthorized,
    ValidationFailed,
)
from repl_client.errors import STATUS_ERRORS, parse_retry_after

# -- the fake server -----------------------------------------------------------


@dataclass
class Canned:
    """One scripted reply. ``drop`` closes the connection without answering."""

    status: int = 200
    body: Any = None
    raw: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False
    delay: float = 0.0


@dataclass
class Seen:
    """One request as the fake server received it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


Reply = Canned | Callable[[Seen], Canned]


class FakeService:
    """A scripted HTTP server on 127.0.0.1 and a free port."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], list[Reply]] = {}
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )

    def reply(self, method: str, path: str, *replies: Reply) -> None:
        """Script ``replies`` in order; the last one repeats."""
        self.routes[(method, path)] = list(replies)

    def count(self, method: str, path: str) -> int:
        """How many requests hit (method, path)."""
        return sum(1 for seen in self.seen if (seen.method, seen.path) == (method, path))

    def last(self, method: str, path: str) -> Seen:
        """The most recent request to (method, path)."""
        return [seen for seen in self.seen if (seen.method, seen.path) == (method, path)][-1]

    def next_reply(self, seen: Seen) -> Canned:
        """Record ``seen`` and pop its scripted reply."""
        with self._lock:
            self.seen.append(seen)
            script = self.routes.get((seen.method, seen.path))
            if not script:
                return Canned(404, {"detail": f"no canned reply for {seen.method} {seen.path}"})
            reply = script.pop(0) if len(script) > 1 else script[0]
        return reply(seen) if callable(reply) else reply

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler_for(service: FakeService) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def _serve(self) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            seen = Seen(
                method=self.command,
                path=url.path,
                query={key: values[-1] for key, values in parse_qs(url.query).items()},
                headers=dict(self.headers.items()),
                body=json.loads(raw) if raw else None,
            )
            canned = service.next_reply(seen)
            time.sleep(canned.delay)
            if canned.drop:
                self.close_connection = True
                return
            try:
                self._send(canned)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up first (read-timeout tests)

        def _send(self, canned: Canned) -> None:
            payload = canned.raw if canned.raw is not None else json.dumps(canned.body).encode()
            self.send_response(canned.status)
            content_type = "text/html" if canned.raw is not None else "application/json"
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            for name, value in canned.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    return Handler


@pytest.fixture
def fake() -> Iterator[FakeService]:
    service = FakeService()
    service.start()
    yield service
    service.stop()


@pytest.fixture
def sleeps() -> list[float]:
    """The waits the retry loop asked for (recorded, not slept)."""
    return []


@pytest.fixture
def policy(sleeps: list[float]) -> RetryPolicy:
    return RetryPolicy(max_attempts=3, backoff_base=0.5, jitter=False, sleep=sleeps.append)


@pytest.fixture
def client(fake: FakeService, policy: RetryPolicy) -> Iterator[ReplClient]:
    with ReplClient(fake.url, timeout=5.0, retry=policy) as repl:
        yield repl


def _free_port() -> int:
    """A port on 127.0.0.1 with nothing listening (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


RUN_REPLY = {
    "stdout": "hi\n",
    "stderr": "",
    "id": "s1",
    "exit_code": 0,
    "timed_out": False,
    "truncated": False,
    "duration_ms": 12,
}

# -- requests and parsing ------------------------------------------------------


def test_ping_true_when_service_says_ping(fake: FakeService, client: ReplClient) -> None:
    fake.reply("GET", "/", Canned(body="ping"))
    assert client.ping() is True


def test_ping_false_without_retry_on_error(fake: FakeService, client: ReplClient) -> None:
    fake.reply("GET", "/", Canned(503, {"detail": "down"}, headers={"Retry-After": "1"}))
    assert client.ping() is False
    assert fake.count("GET", "/") == 1


def test_ping_false_when_nothing_listens() -> None:
    with ReplClient(f"http://127.0.0.1:{_free_port()}") as repl:
        assert repl.ping() is False


def test_create_session_without_and_with_id(fake: FakeService, client: ReplClient) -> None:
    fake.reply(
        "POST",
        "/create_session",
        lambda seen: Canned(body={"id": (seen.body or {}).get("id", "new-uuid")}),
    )
    assert client.create_session() == "new-uuid"
    assert fake.last("POST", "/create_session").body == {}
    assert client.create_session("mine") == "mine"
    assert fake.last("POST", "/create_session").body == {"id": "mine"}


def test_run_sends_only_given_fields_and_parses_result(
    fake: FakeService, client: ReplClient
) -> None:
    fake.reply("POST", "/run", Canned(body=RUN_REPLY))
    result = client.run("s1", "echo hi")
    assert fake.last("POST", "/run").body == {"id": "s1", "cmd": "echo hi"}
    assert result == RunResult(stdout="hi\n", stderr="", id="s1", exit_code=0, duration_ms=12)
    assert result.ok
    client.run("s1", "cat", stdin="data", timeout=3)
    assert fake.last("POST", "/run").body == {
        "id": "s1",
        "cmd": "cat",
        "stdin": "data",
        "timeout": 3,
    }


def test_unknown_fields_are_ignored(fake: FakeService, client: ReplClient) -> None:
    fake.reply("POST", "/run", Canned(body={**RUN_REPLY, "cpu_ms": 3, "future": {"x": 1}}))
    fake.reply(
        "POST",
        "/evaluate_code",
        Canned(
            body={
                "passed": True,
                "error": None,
                "new_top_level": [1],
                "case_results": [
                    {
                        "case": 0,
                        "input": "1, 2",
                        "passed": True,
                        "got": 3,
                        "expected": 3,
                        "error": None,
                        "status": "passed",
                        "stdout": "",
                        "duration_ms": 4,
                        "rusage": {"maxrss": 1},
                    },
                ],
            }
        ),
    )
    fake.reply(
        "GET",
        "/list_files",
        Canned(
            body={
                "id": "s1",
                "files": [{"path": "a.txt", "size": 3, "kind": "file", "mtime": 1.5}],
                "total": 1,
            }
        ),
    )
    assert client.run("s1", "x").stdout == "hi\n"
    evaluation = client.evaluate_code("s1", "def add(a, b): return a + b", "add", [("1, 2", "3")])
    assert evaluation.case_results[0] == CaseResult(
        case=0, input="1, 2", passed=True, got=3, expected=3, status="passed", duration_ms=4
    )
    assert client.list_files("s1") == [FileEntry(path="a.txt", size=3, kind="file")]


def test_reply_of_the_original_service_gets_defaults(fake: FakeService, client: ReplClient) -> None:
    fake.reply("POST", "/run", Canned(body={"stdout": "", "stderr": "boom", "id": "s1"}))
    result = client.run("s1", "false")
    assert (result.exit_code, result.timed_out, result.truncated, result.duration_ms) == (
        None,
        False,
        False,
        None,
    )
    assert not result.ok


def test_evaluate_code_request_and_result(fake: FakeService, client: ReplClient) -> None:
    fake.reply(
        "POST",
        "/evaluate_code",
        Canned(
            body={
                "passed": False,
                "error": None,
                "case_results": [
                    {
                        "case": 0,
                        "input": "1, 2",
                        "passed": True,
                        "got": 3,
                        "expected": 3,
                        "error": None,
                    },
                    {
                        "case": 1,
                        "input": "2, 2",
                        "passed": False,
                        "got": 4,
                        "expected": 5,
                        "error": None,
                        "status": "failed",
                    },
                ],
            }
        ),
    )
    result = client.evaluate_code(
        "s1",
        "def add(a, b): return a + b",
        "add",
        [{"input": "1, 2", "output": "3"}, ("2, 2", "5")],
        timeout=2,
        memory_limit_mb=256,
    )
    assert fake.last("POST", "/evaluate_code").body == {
        "id": "s1",
        "code": "def add(a, b): return a + b",
        "entry_point": "add",
        "io_cases": [{"input": "1, 2", "output": "3"}, {"input": "2, 2", "output": "5"}],
        "timeout": 2,
        "memory_limit_mb": 256,
    }
    assert isinstance(result, EvaluationResult)
    assert not result.passed
    assert isinstance(result.case_results, tuple)
    assert [case.case for case in result.failed_cases] == [1]
    assert result.case_results[1].status == "failed"


def test_score_and_passed_count_are_read_and_absent_from_the_original_service() -> None:
    case = {"case": 0, "input": "1", "passed": False, "status": "output_limit", "score": 0.25}
    result = EvaluationResult.from_json({"passed": False, "case_results": [case], "error": None,
                                         "score": 0.25, "passed_count": 0})
    assert (result.score, result.passed_count, result.case_results[0].score) == (0.25, 0, 0.25)
    assert result.case_results[0].status == "output_limit"
    original = EvaluationResult.from_json({"passed": True, "case_results": [{"case": 0, "input": "1", "passed": True}],
                                           "error": None})
    assert (original.score, original.passed_count, original.case_results[0].score) == (None, None, None)


def test_evaluate_code_with_program_cases(fake: FakeService, client: ReplClient) -> None:
    fake.reply("POST", "/evaluate_code", Canned(body={"passed": True, "error": None, "case_results": [
        {"case": 0, "input": "1 2", "passed": True, "got": "3\n", "expected": "3", "status": "passed",
         "stdout": "3\n", "stderr": "warn\n", "cpu_ms": 12.5, "peak_memory_kb": 9000}]}))
    result = client.evaluate_code("s1", "print(3)", None, [{"stdin": "1 2", "stdout": "3"}], compile="true",
                                  cmd='python3 "$PROGRAM"', main_file="m.py", compare="float", rel_tol=0.1,
                                  abs_tol=0.2)
    assert fake.last("POST", "/evaluate_code").body == {
        "id": "s1", "code": "print(3)", "io_cases": [{"stdin": "1 2", "stdout": "3"}], "compile": "true",
        "cmd": 'python3 "$PROGRAM"', "main_file": "m.py", "compare": "float", "rel_tol": 0.1, "abs_tol": 0.2,
    }
    case = result.case_results[0]
    assert (case.got, case.stderr, case.cpu_ms, case.peak_memory_kb) == ("3\n", "warn\n", 12.5, 9000)


def test_results_are_frozen() -> None:
    result = RunResult(stdout="", stderr="", id="s")
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.stdout = "changed"  # type: ignore[misc]


def test_read_file_and_list_files_send_query(fake: FakeService, client: ReplClient) -> None:
    fake.reply(
        "GET", "/read_file", Canned(body={"content": "text", "id": "s1", "rel_path": "a/b.txt"})
    )
    fake.reply("GET", "/list_files", Canned(body={"id": "s1", "files": []}))
    assert client.read_file("s1", "a/b.txt") == "text"
    assert fake.last("GET", "/read_file").query == {"id": "s1", "rel_path": "a/b.txt"}
    assert client.list_files("s1") == []
    assert fake.last("GET", "/list_files").query == {"id": "s1"}


def test_base64_bytes_round_trip(fake: FakeService, client: ReplClient) -> None:
    stored: dict[str, dict[str, Any]] = {}

    def write(seen: Seen) -> Canned:
        stored[seen.body["rel_path"]] = seen.body
        return Canned(
            body={"success": True, "id": seen.body["id"], "rel_path": seen.body["rel_path"]}
        )

    def read(seen: Seen) -> Canned:
        written = stored[seen.query["rel_path"]]
        assert seen.query.get("encoding") == written.get("encoding")
        return Canned(
            body={
                "content": written["content"],
                "id": seen.query["id"],
                "rel_path": seen.query["rel_path"],
            }
        )

    fake.reply("POST", "/write_file", write)
    fake.reply("GET", "/read_file", read)
    payload = bytes(range(256)) + b"\x00\xff\xfe"
    client.write_file("s1", "blob.bin", payload)
    sent = fake.last("POST", "/write_file").body
    assert sent["encoding"] == "base64"
    assert base64.b64decode(sent["content"]) == payload
    assert client.read_file("s1", "blob.bin", encoding="base64") == payload


def test_str_with_base64_encoding_is_sent_as_is(fake: FakeService, client: ReplClient) -> None:
    fake.reply("POST", "/write_file", Canned(body={"success": True, "id": "s1", "rel_path": "x"}))
    client.write_file("s1", "x", "AAE=", encoding="base64")
    assert fake.last("POST", "/write_file").body == {
        "id": "s1",
        "rel_path": "x",
        "content": "AAE=",
        "encoding": "base64",
    }
    client.write_file("s1", "x", "plain")
    assert "encoding" not in fake.last("POST", "/write_file").body


def test_bytes_with_text_encoding_is_refused(client: ReplClient) -> None:
    with pytest.raises(ValueError):
        client.write_file("s1", "x", b"data", encoding="utf-8")


def test_fork_and_delete_session(fake: FakeService, client: ReplClient) -> None:
    fake.reply("POST", "/fork_session", Canned(body={"new_id": "copy"}))
    fake.reply("POST", "/delete_session", Canned(body={"success": True, "id": "s1"}))
    assert client.fork_session("s1") == "copy"
    client.delete_session("s1")  # returns nothing
    assert fake.last("POST", "/delete_session").body == {"id": "s1"}


def test_rename_and_delete_file_bodies(fake: FakeService, client: ReplClient) -> None:
    fake.reply(
        "POST",
        "/rename_file",
        Canned(body={"success": True, "id": "s1", "old_path": "a", "new_path": "b"}),
    )
    fake.reply("POST", "/delete_file", Canned(body={"success": True, "id": "s1", "rel_path": "b"}))
    client.rename_file("s1", "a", "b")
    client.delete_file("s1", "b")
    assert fake.last("POST", "/rename_file").body == {"id": "s1", "old_path": "a", "new_path": "b"}
    assert fake.last("POST", "/delete_file").body == {"id": "s1", "rel_path": "b"}


def test_success_false_is_an_error(fake: FakeService, client: ReplClient) -> None:
    fake.reply("POST", "/delete_file", Canned(body={"success": False, "id": "s1", "rel_path": "b"}))
    with pytest.raises(ReplError):
        client.delete_file("s1", "b")


def test_healthz_and_readyz(fake: FakeService, client: ReplClient) -> None:
    fake.reply("GET", "/healthz", Canned(body={"status": "ok"}))
    fake.reply("GET", "/readyz", Canned(body={"ready": True, "idle_sandboxes": 4}))
    assert client.healthz() == {"status": "ok"}
    assert client.readyz()["idle_sandboxes"] == 4


def test_readyz_not_ready_raises_once(fake: FakeService, client: ReplClient) -> None:
    report = {"ready": False, "detail": "supervisor not answering"}
    fake.reply("GET", "/readyz", Canned(503, report, headers={"Retry-After": "1"}))
    with pytest.raises(ServiceUnavailable) as caught:
        client.readyz()
    assert caught.value.body == report
    assert fake.count("GET", "/readyz") == 1


# -- errors --------------------------------------------------------------------

VALIDATION_DETAIL = [
    {"loc": ["body", "id"], "msg": "String should match pattern", "type": "string_pattern_mismatch"}
]


@pytest.mark.parametrize(
    ("status", "detail", "expected"),
    [
        (400, "Session does not exist", BadRequest),
        (401, "Missing or invalid bearer token", Unauthorized),
        (404, "File not found: a.txt", NotFound),
        (413, "Disk quota exceeded", PayloadTooLarge),
        (422, VALIDATION_DETAIL, ValidationFailed),
        (500, "Internal error", ServerError),
        (502, "Bad gateway", ServerError),
        (503, "Supervisor unavailable", ServiceUnavailable),
        (504, "the sandbox died while running the job", OutcomeUnknown),
        (418, "I'm a teapot", ReplError),
    ],
)
def test_status_maps_to_exception_with_detail(
    fake: FakeService, client: ReplClient, status: int, detail: Any, expected: type[ReplError]
) -> None:
    fake.reply("POST", "/run", Canned(status, {"detail": detail}))
    with pytest.raises(ReplError) as caught:
        client.run("s1", "true")
    error = caught.value
    assert type(error) is expected
    assert error.status_code == status
    assert error.detail == detail
    assert str(status) in str(error)
    if isinstance(detail, str):
        assert detail in str(error)


def test_status_table_is_the_documented_one() -> None:
    assert {
        400: BadRequest,
        401: Unauthorized,
        404: NotFound,
        413: PayloadTooLarge,
        422: ValidationFailed,
        503: ServiceUnavailable,
        504: OutcomeUnknown,
    } == STATUS_ERRORS


def test_validation_errors_are_readable(fake: FakeService, client: ReplClient) -> None:
    fake.reply("GET", "/read_file", Canned(422, {"detail": VALIDATION_DETAIL}))
    with pytest.raises(ValidationFailed) as caught:
        client.read_file("../x", "a")
    assert caught.value.errors == VALIDATION_DETAIL
    assert "body.id: String should match pattern" in str(caught.value)


def test_non_json_error_body_becomes_text_detail(fake: FakeService, client: ReplClient) -> None:
    fake.reply("GET", "/list_files", Canned(502, raw=b"<html>Bad Gateway</html>"))
    with pytest.raises(ServerError) as caught:
        client.list_files("s1")
    assert "Bad Gateway" in caught.value.detail
    assert caught.value.body is None


def test_non_json_success_is_invalid_response(fake: FakeService, client: ReplClient) -> None:
    fake.reply("GET", "/list_files", Canned(200, raw=b"<html>login page</html>"))
    with pytest.raises(InvalidResponse):
        client.list_files("s1")


def test_reply_missing_a_field_is_invalid_response(fake: FakeService, client: ReplClient) -> None:
    fake.reply("POST", "/run", Canned(body={"stdout": "only"}))
    fake.reply("POST", "/fork_session", Canned(body={"id": "wrong-field"}))
    with pytest.raises(InvalidResponse):
        client.run("s1", "x")
    with pytest.raises(InvalidResponse):
        client.fork_session("s1")


# -- retries -------------------------------------------------------------------


def test_503_is_retried_honouring_retry_after(
    fake: FakeService, client: ReplClient, sleeps: list[float]
) -> None:
    busy = Canned(503, {"detail": "overloaded"}, headers={"Retry-After": "2"})
    fake.reply("GET", "/list_files", busy, busy, Canned(body={"id": "s1", "files": []}))
    assert client.list_files("s1") == []
    assert fake.count("GET", "/list_files") == 3
    assert sleeps == [2.0, 2.0]


def test_503_is_retried_even_for_run(
    fake: FakeService, client: ReplClient, sleeps: list[float]
) -> None:
    fake.reply(
        "POST",
        "/run",
        Canned(503, {"detail": "no idle sandbox"}, headers={"Retry-After": "1"}),
        Canned(body=RUN_REPLY),
    )
    assert client.run("s1", "echo hi").stdout == "hi\n"
    assert fake.count("POST", "/run") == 2
    assert sleeps == [1.0]


def test_504_is_not_retried_for_run_or_evaluate(
    fake: FakeService, client: ReplClient, sleeps: list[float]
) -> None:
    unknown = Canned(504, {"detail": "the sandbox died while running the job; it may have run"})
    fake.reply("POST", "/run", unknown, Canned(body=RUN_REPLY))
    fake.reply("POST", "/evaluate_code", unknown, Canned(body={"passed": True, "case_results": [], "error": None}))
    with pytest.raises(OutcomeUnknown) as caught:
        client.run("s1", "echo once >> log")
    assert isinstance(caught.value, ServerError) and "may have run" in str(caught.value)
    with pytest.raises(OutcomeUnknown):
        client.evaluate_code("s1", "x = 1", "x", [("", "1")])
    assert fake.count("POST", "/run") == 1 and fake.count("POST", "/evaluate_code") == 1
    assert sleeps == []


def test_504_is_retried_for_idempotent_calls(
    fake: FakeService, client: ReplClient, sleeps: list[float]
) -> None:
    unknown = Canned(504, {"detail": "the supervisor did not answer in time"})
    fake.reply("GET", "/list_files", unknown, Canned(body={"id": "s1", "files": []}))
    assert client.list_files("s1") == []
    assert fake.count("GET", "/list_files") == 2


def test_503_gives_up_after_max_attempts(
    fake: FakeService, client: ReplClient, sleeps: list[float]
) -> None:
    fake.reply(
        "POST", "/evaluate_code", Canned(503, {"detail": "down"}, headers={"Retry-After": "1.5"})
    )
    with pytest.raises(ServiceUnavailable) as caught:
        client.evaluate_code("s1", "x = 1", "x", [])
    assert fake.count("POST", "/evaluate_code") == 3
    assert caught.value.retry_after == 1.5
    assert caught.value.detail == "down"
    assert sleeps == [1.5, 1.5]


def test_503_without_retry_after_backs_off_exponentially(
    fake: FakeService, client: ReplClient, sleeps: list[float]
) -> None:
    fake.reply("GET", "/read_file", Canned(503, {"detail": "down"}))
    with pytest.raises(ServiceUnavailable) as caught:
        client.read_file("s1", "a")
    assert caught.value.retry_after is None
    assert sleeps == [0.5, 1.0]


def test_retry_after_beyond_time_budget_fails_at_once(
    fake: FakeService, sleeps: list[float]
) -> None:
    policy = RetryPolicy(max_attempts=5, total_time=10, sleep=sleeps.append)
    fake.reply("GET", "/list_files", Canned(503, {"detail": "down"}, headers={"Retry-After": "60"}))
    with ReplClient(fake.url, retry=policy) as repl, pytest.raises(ServiceUnavailable):
        repl.list_files("s1")
    assert fake.count("GET", "/list_files") == 1
    assert sleeps == []


def test_real_wait_honours_retry_after(fake: FakeService) -> None:
    fake.reply(
        "GET",
        "/list_files",
        Canned(503, {"detail": "busy"}, headers={"Retry-After": "1"}),
        Canned(body={"id": "s1", "files": []}),
    )
    start = time.monotonic()
    with ReplClient(fake.url, retry=RetryPolicy(max_attempts=2)) as repl:
        assert repl.list_files("s1") == []
    assert time.monotonic() - start >= 1.0


def test_run_is_not_retried_after_connection_drop(
    fake: FakeService, client: ReplClient, sleeps: list[float]
) -> None:
    fake.reply("POST", "/run", Canned(drop=True), Canned(body=RUN_REPLY))
    with pytest.raises(ConnectionFailed) as caught:
        client.run("s1", "echo hi")
    assert caught.value.request_sent is True
    assert caught.value.status_code is None
    assert fake.count("POST", "/run") == 1
    assert sleeps == []


@pytest.mark.parametrize(
    ("path", "call"),
    [
        ("/evaluate_code", lambda c: c.evaluate_code("s1", "x = 1", "x", [])),
        ("/delete_file", lambda c: c.delete_file("s1", "a")),
        ("/rename_file", lambda c: c.rename_file("s1", "a", "b")),
        ("/fork_session", lambda c: c.fork_session("s1")),
        ("/delete_session", lambda c: c.delete_session("s1")),
        ("/create_session", lambda c: c.create_session()),
    ],
)
def test_non_idempotent_posts_are_not_retried_after_drop(
    fake: FakeService, client: ReplClient, path: str, call: Callable[[ReplClient], Any]
) -> None:
    fake.reply("POST", path, Canned(drop=True))
    with pytest.raises(ConnectionFailed):
        call(client)
    assert fake.count("POST", path) == 1


def test_get_is_retried_after_connection_drop(fake: FakeService, client: ReplClient) -> None:
    fake.reply(
        "GET",
        "/read_file",
        Canned(drop=True),
        Canned(body={"content": "ok", "id": "s1", "rel_path": "a"}),
    )
    assert client.read_file("s1", "a") == "ok"
    assert fake.count("GET", "/read_file") == 2


def test_idempotent_posts_are_retried_after_drop(fake: FakeService, client: ReplClient) -> None:
    fake.reply(
        "POST",
        "/write_file",
        Canned(drop=True),
        Canned(body={"success": True, "id": "s1", "rel_path": "a"}),
    )
    fake.reply("POST", "/create_session", Canned(drop=True), Canned(body={"id": "mine"}))
    client.write_file("s1", "a", "text")
    assert client.create_session("mine") == "mine"
    assert fake.count("POST", "/write_file") == 2
    assert fake.count("POST", "/create_session") == 2


def test_get_is_retried_after_read_timeout(fake: FakeService, policy: RetryPolicy) -> None:
    fake.reply(
        "GET",
        "/list_files",
        Canned(body={"id": "s1", "files": []}, delay=1.0),
        Canned(body={"id": "s1", "files": []}),
    )
    with ReplClient(fake.url, timeout=0.2, retry=policy) as repl:
        assert repl.list_files("s1") == []
    assert fake.count("GET", "/list_files") == 2


def test_refused_connection_is_retried_even_for_run(
    sleeps: list[float], policy: RetryPolicy
) -> None:
    url = f"http://127.0.0.1:{_free_port()}"
    with ReplClient(url, retry=policy) as repl, pytest.raises(ConnectionFailed) as caught:
        repl.run("s1", "echo hi")
    assert caught.value.request_sent is False
    assert sleeps == [0.5, 1.0]


def test_client_errors_are_not_retried(
    fake: FakeService, client: ReplClient, sleeps: list[float]
) -> None:
    fake.reply("GET", "/read_file", Canned(404, {"detail": "File not found"}))
    with pytest.raises(NotFound):
        client.read_file("s1", "missing")
    assert fake.count("GET", "/read_file") == 1
    assert sleeps == []


def test_parse_retry_after_forms() -> None:
    now = time.time()
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("-4") == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    in_ten = email.utils.formatdate(now + 10, usegmt=True)
    waited = parse_retry_after(in_ten, now=now)
    assert waited is not None and 8.0 <= waited <= 10.0


# -- timeouts, auth, lifecycle ---------------------------------------------------


def _record_timeouts(repl: ReplClient) -> list[Any]:
    """Wrap the client's HTTP session to record the timeout of each request."""
    seen: list[Any] = []
    http = repl._transport._http
    original = http.request

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs.get("timeout"))
        return original(*args, **kwargs)

    http.request = spy  # type: ignore[method-assign]
    return seen


def test_read_timeout_outlasts_sandbox_limit(fake: FakeService) -> None:
    fake.reply("POST", "/run", Canned(body=RUN_REPLY))
    fake.reply(
        "POST", "/evaluate_code", Canned(body={"passed": True, "case_results": [], "error": None})
    )
    fake.reply("GET", "/list_files", Canned(body={"id": "s1", "files": []}))
    with ReplClient(fake.url, timeout=7.0, connect_timeout=2.0) as repl:
        timeouts = _record_timeouts(repl)
        repl.list_files("s1")
        repl.run("s1", "sleep 100", timeout=100)
        repl.run("s1", "true")
        repl.evaluate_code("s1", "x = 1", "x", [("", "1")] * 3, timeout=20)
    listing, long_run, default_run, evaluation = timeouts
    assert listing == (2.0, 7.0)
    assert long_run[0] == 2.0 and long_run[1] > 100
    assert default_run[1] > 30
    assert evaluation[1] > 3 * 20


def test_the_client_gives_up_after_the_service_does(fake: FakeService) -> None:
    """The read timeout outlasts the web tier's own deadline (protocol/budget.py) with
    the default configuration: the caller hears the service's answer, 504 included."""
    from protocol import budget, settings
    from protocol.models import EvaluateRequest, RunRequest

    config = settings.load({})
    fake.reply("POST", "/run", Canned(body=RUN_REPLY))
    fake.reply("POST", "/evaluate_code", Canned(body={"passed": True, "case_results": [], "error": None}))
    cases = [{"input": "", "output": "1"}] * 100
    with ReplClient(fake.url) as repl:
        timeouts = _record_timeouts(repl)
        repl.run("s1", "true")
        repl.evaluate_code("s1", "x = 1", "x", cases)
    run_read, evaluate_read = (read for _, read in timeouts)
    context = {"config": config}
    run = RunRequest.model_validate({"id": "s1", "cmd": "true"}, context=context)
    evaluation = EvaluateRequest.model_validate({"id": "s1", "code": "x = 1", "entry_point": "x",
                                                 "io_cases": cases}, context=context)
    assert run_read > budget.rpc_timeout("run", run, config)
    assert evaluate_read > budget.rpc_timeout("evaluate", evaluation, config)


def test_bearer_token_is_sent(fake: FakeService) -> None:
    fake.reply("GET", "/list_files", Canned(body={"id": "s1", "files": []}))
    with ReplClient(fake.url, token="s3cret") as repl:
        repl.list_files("s1")
    assert fake.last("GET", "/list_files").headers["Authorization"] == "Bearer s3cret"


def test_no_authorization_header_without_token(fake: FakeService, client: ReplClient) -> None:
    fake.reply("GET", "/list_files", Canned(body={"id": "s1", "files": []}))
    client.list_files("s1")
    assert "Authorization" not in fake.last("GET", "/list_files").headers


def test_context_manager_closes_the_session(fake: FakeService) -> None:
    closes: list[bool] = []
    with ReplClient(fake.url + "/") as repl:
        http = repl._transport._http
        original_close = http.close
        def close() -> None:
            closes.append(True)
            original_close()
        http.close = close  # type: ignore[method-assign]
        assert repl.base_url == fake.url
        assert not repl.closed
    assert repl.closed
    assert closes == [True]
    repl.close()
    assert closes == [True]
    with pytest.raises(RuntimeError):
        repl.list_files("s1")


def test_base_url_must_be_http() -> None:
    with pytest.raises(ValueError):
        ReplClient("127.0.0.1:6000")


def test_retry_policy_rejects_zero_attempts() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)


# -- batches -------------------------------------------------------------------


def _evaluated(index: int) -> dict[str, Any]:
    case = {"case": 0, "input": "", "passed": True, "got": index, "expected": index, "status": "passed"}
    return {"status": 200, "passed": True, "case_results": [case], "error": None}


def _submission(index: int, **extra: Any) -> dict[str, Any]:
    return {"id": "s1", "code": f"x = {index}", "entry_point": "x", "io_cases": [("", str(index))], **extra}


NOT_RUN = {"status": 503, "detail": "no sandbox became free in time; the job was not started, retry shortly"}


def _answering(not_run: set[int]) -> Callable[[Seen], Canned]:
    """Answer each submission with its index (taken from its code), or 503 for `not_run`."""

    def reply(seen: Seen) -> Canned:
        indexes = [int(sub["code"].split("= ")[1]) for sub in seen.body["submissions"]]
        return Canned(body={"results": [NOT_RUN if i in not_run else _evaluated(i) for i in indexes]})

    return reply


def test_evaluate_batch_request_and_results_in_order(fake: FakeService, client: ReplClient) -> None:
    lost = {"status": 504, "detail": "the sandbox died while running the job; it may have run"}
    fake.reply("POST", "/evaluate_batch", Canned(body={"results": [_evaluated(0), lost, _evaluated(2)]}))
    results = client.evaluate_batch([_submission(0), _submission(1, timeout=2), _submission(2)])
    assert fake.last("POST", "/evaluate_batch").body["submissions"][1] == {
        "id": "s1", "code": "x = 1", "entry_point": "x", "io_cases": [{"input": "", "output": "1"}], "timeout": 2}
    first, second, third = results
    assert isinstance(first, EvaluationResult) and first.case_results[0].got == 0
    assert isinstance(second, OutcomeUnknown) and second.status_code == 504 and "may have run" in second.detail
    assert isinstance(third, EvaluationResult) and third.case_results[0].got == 2
    assert fake.count("POST", "/evaluate_batch") == 1  # a 504 item is never sent again


def test_evaluate_batch_sends_the_503_items_again_and_only_them(
    fake: FakeService, client: ReplClient, sleeps: list[float]
) -> None:
    first_round = _answering({1, 3})
    fake.reply("POST", "/evaluate_batch", first_round, _answering(set()))
    results = client.evaluate_batch([_submission(i) for i in range(5)])
    assert [r.case_results[0].got for r in results if isinstance(r, EvaluationResult)] == [0, 1, 2, 3, 4]
    assert fake.count("POST", "/evaluate_batch") == 2
    resent = fake.last("POST", "/evaluate_batch").body["submissions"]
    assert [sub["code"] for sub in resent] == ["x = 1", "x = 3"]
    assert sleeps == [0.5]


def test_evaluate_batch_gives_up_on_503_items_after_max_attempts(
    fake: FakeService, client: ReplClient, sleeps: list[float]
) -> None:
    fake.reply("POST", "/evaluate_batch", _answering({1}))
    results = client.evaluate_batch([_submission(0), _submission(1)])
    assert isinstance(results[0], EvaluationResult)
    assert isinstance(results[1], ServiceUnavailable) and "not started" in results[1].detail
    assert fake.count("POST", "/evaluate_batch") == 3
    assert sleeps == [0.5, 1.0]


def test_a_whole_batch_503_is_retried_and_a_422_raised(
    fake: FakeService, client: ReplClient, sleeps: list[float]
) -> None:
    nothing_ran = Canned(503, {"detail": "no submission of the batch was started"}, headers={"Retry-After": "1"})
    fake.reply("POST", "/evaluate_batch", nothing_ran, _answering(set()))
    assert len(client.evaluate_batch([_submission(0)])) == 1
    assert sleeps == [1.0]
    invalid = [{"type": "missing", "loc": ["body", "submissions", 0, "code"], "msg": "Field required"}]
    fake.reply("POST", "/evaluate_batch", Canned(422, {"detail": invalid}))
    with pytest.raises(ValidationFailed) as caught:
        client.evaluate_batch([_submission(0)])
    assert "submissions.0.code" in str(caught.value)


def test_evaluate_batch_reply_of_the_wrong_length_is_invalid(fake: FakeService, client: ReplClient) -> None:
    fake.reply("POST", "/evaluate_batch", Canned(body={"results": [_evaluated(0)]}))
    with pytest.raises(InvalidResponse):
        client.evaluate_batch([_submission(0), _submission(1)])


def test_evaluate_batch_waits_for_every_wave(fake: FakeService, client: ReplClient) -> None:
    from repl_client import deadlines

    fake.reply("POST", "/evaluate_batch", _answering(set()))
    submissions = [_submission(i, timeout=1) for i in range(deadlines.BATCH_WINDOW + 1)]
    seen: list[float] = []
    original = client._transport._attempt

    def spy(method: str, path: str, params: Any, body: Any, read_timeout: float) -> Any:
        seen.append(read_timeout)
        return original(method, path, params, body, read_timeout)

    client._transport._attempt = spy  # type: ignore[method-assign]
    client.evaluate_batch(submissions)
    one = deadlines.answer_timeout("evaluate", 1, 1) - deadlines.HTTP_MARGIN
    assert seen == [pytest.approx(2 * one + deadlines.HTTP_MARGIN)]


def test_evaluate_batch_waits_for_the_cases_of_the_tests(fake: FakeService, client: ReplClient) -> None:
    """A test-code submission runs a case per assert: the batch's wait counts them, as
    ``evaluate_code``'s does, so the client does not give up before the service answers."""
    fake.reply("POST", "/evaluate_batch", _answering(set()))
    tests = "assert x == 0\nassert x >= 0\nassert x < 1\n"
    seen: list[float] = []
    original = client._transport._attempt

    def spy(method: str, path: str, params: Any, body: Any, read_timeout: float) -> Any:
        seen.append(read_timeout)
        return original(method, path, params, body, read_timeout)

    client._transport._attempt = spy  # type: ignore[method-assign]
    client.evaluate_batch([{"id": "s1", "code": "x = 0", "tests": tests, "timeout": 10}])
    assert seen[0] > 3 * 10
    fake.reply("POST", "/evaluate_code", Canned(body={"passed": True, "case_results": [], "error": None}))
    client.evaluate_code("s1", "x = 0", None, [], timeout=10, tests=tests)
    assert seen[1] == pytest.approx(seen[0])


# -- the async client ----------------------------------------------------------


def _async_client(fake: FakeService, sleeps: list[float]) -> Any:
    from repl_client import AsyncReplClient

    async def record(seconds: float) -> None:
        sleeps.append(seconds)

    policy = RetryPolicy(max_attempts=3, backoff_base=0.5, jitter=False, async_sleep=record)
    return AsyncReplClient(fake.url, timeout=5.0, retry=policy, token="t0k")


def test_async_client_batch_resends_503_items(fake: FakeService, sleeps: list[float]) -> None:
    fake.reply("POST", "/evaluate_batch", _answering({0}), _answering(set()))

    async def main() -> list[Any]:
        async with _async_client(fake, sleeps) as client:
            return await client.evaluate_batch([_submission(0), _submission(1)])

    results = asyncio.run(main())
    assert [r.case_results[0].got for r in results] == [0, 1]
    assert [sub["code"] for sub in fake.last("POST", "/evaluate_batch").body["submissions"]] == ["x = 0"]
    assert fake.last("POST", "/evaluate_batch").headers["Authorization"] == "Bearer t0k"
    assert sleeps == [0.5]


def test_async_client_retries_as_the_sync_one(fake: FakeService, sleeps: list[float]) -> None:
    fake.reply("POST", "/run", Canned(503, {"detail": "busy"}, headers={"Retry-After": "2"}), Canned(body=RUN_REPLY))
    fake.reply("POST", "/evaluate_code", Canned(drop=True))
    fake.reply("GET", "/read_file", Canned(drop=True), Canned(body={"content": "ok", "id": "s1", "rel_path": "a"}))
    fake.reply("GET", "/list_files", Canned(404, {"detail": "no such session"}))

    async def main() -> None:
        async with _async_client(fake, sleeps) as client:
            assert (await client.run("s1", "echo hi")).stdout == "hi\n"  # a 503 is retried for every call
            with pytest.raises(ConnectionFailed) as caught:  # not after the request may have arrived
                await client.evaluate_code("s1", "x = 1", "x", [])
            assert caught.value.request_sent is True
            assert await client.read_file("s1", "a") == "ok"  # a read is retried after a drop
            with pytest.raises(NotFound) as missing:
                await client.list_files("s1")
            assert missing.value.detail == "no such session"

    asyncio.run(main())
    assert sleeps == [2.0, 0.5]
    assert fake.count("POST", "/run") == 2 and fake.count("POST", "/evaluate_code") == 1
    assert fake.count("GET", "/read_file") == 2


def test_async_client_refused_connection_is_not_sent(sleeps: list[float]) -> None:
    from repl_client import AsyncReplClient

    async def main() -> None:
        policy = RetryPolicy(max_attempts=2, backoff_base=0, jitter=False)
        async with AsyncReplClient(f"http://127.0.0.1:{_free_port()}", retry=policy) as client:
            assert await client.ping() is False
            with pytest.raises(ConnectionFailed) as caught:
                await client.run("s1", "true")
            assert caught.value.request_sent is False
        assert client.closed
        with pytest.raises(RuntimeError):
            await client.healthz()

    asyncio.run(main())
