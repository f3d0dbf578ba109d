"""Integration tests of repl_client against the real service.

The ``service`` fixture (tests/conftest.py) starts the supervisor and the web
tier once per test session and exposes ``.url`` and ``.session_root``; an
optional ``.token`` is used when the service was started with one. Each test
works in sessions of its own, so tests do not depend on one another.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from repl_client import (
    BadRequest,
    EvaluationResult,
    FileEntry,
    NotFound,
    ReplClient,
    RunResult,
    ValidationFailed,
)

ADD_SOURCE = "def add(a, b):\n    return a + b\n"


@pytest.fixture
def client(service: Any) -> Iterator[ReplClient]:
    with ReplClient(service.url, token=getattr(service, "token", None), timeout=30.0) as repl:
        yield repl


@pytest.fixture
def sid(client: ReplClient) -> Iterator[str]:
    """A fresh session, removed after the test."""
    session_id = client.create_session()
    yield session_id
    with contextlib.suppress(NotFound):
        client.delete_session(session_id)


def test_probes(client: ReplClient) -> None:
    assert client.ping() is True
    client.healthz()
    assert isinstance(client.readyz(), dict)


def test_create_session_with_and_without_id(client: ReplClient, service: Any) -> None:
    chosen = f"client-{uuid.uuid4().hex}"
    try:
        assert client.create_session(chosen) == chosen
        assert client.create_session(chosen) == chosen  # naming an existing id is a no-op
        assert (service.session_root / chosen).is_dir()
        assert client.list_files(chosen) == []
        generated = client.create_session()
        assert str(uuid.UUID(generated)) == generated
        client.delete_session(generated)
    finally:
        client.delete_session(chosen)
    assert not (service.session_root / chosen).exists()


def test_write_read_list_rename_delete(client: ReplClient, sid: str, service: Any) -> None:
    client.write_file(sid, "a/b.txt", "hello\n")
    assert (service.session_root / sid / "a" / "b.txt").read_text() == "hello\n"
    assert client.read_file(sid, "a/b.txt") == "hello\n"

    entries = {entry.path: entry for entry in client.list_files(sid)}
    assert entries["a"].kind == "dir"
    assert entries["a/b.txt"] == FileEntry(path="a/b.txt", size=6, kind="file")

    client.rename_file(sid, "a/b.txt", "c.txt")
    assert client.read_file(sid, "c.txt") == "hello\n"
    with pytest.raises(NotFound):
        client.read_file(sid, "a/b.txt")

    client.delete_file(sid, "c.txt")
    with pytest.raises(NotFound):
        client.read_file(sid, "c.txt")
    with pytest.raises(NotFound):
        client.delete_file(sid, "c.txt")
    with pytest.raises(NotFound):
        client.rename_file(sid, "c.txt", "d.txt")


def test_write_creates_the_session(client: ReplClient) -> None:
    new_id = f"client-{uuid.uuid4().hex}"
    try:
        client.write_file(new_id, "x.txt", "made by write_file")
        assert client.read_file(new_id, "x.txt") == "made by write_file"
    finally:
        client.delete_session(new_id)


def test_binary_round_trip_and_text_read_of_binary(client: ReplClient, sid: str) -> None:
    payload = bytes(range(256))
    client.write_file(sid, "blob.bin", payload)
    assert client.read_file(sid, "blob.bin", encoding="base64") == payload
    with pytest.raises(BadRequest) as caught:
        client.read_file(sid, "blob.bin")
    assert "base64" in str(caught.value.detail)


def test_read_missing_file_is_not_found_with_detail(client: ReplClient, sid: str) -> None:
    with pytest.raises(NotFound) as caught:
        client.read_file(sid, "missing.txt")
    error = caught.value
    assert error.status_code == 404
    assert isinstance(error.detail, str) and "missing.txt" in error.detail
    assert error.detail in str(error)


def test_bad_session_id_fails_validation(client: ReplClient) -> None:
    with pytest.raises(ValidationFailed) as caught:
        client.read_file("../x", "a.txt")
    assert caught.value.status_code == 422
    assert isinstance(caught.value.detail, list) and caught.value.errors
    with pytest.raises(ValidationFailed):
        client.create_session("../x")


def test_escaping_path_is_bad_request(client: ReplClient, sid: str) -> None:
    with pytest.raises(BadRequest) as caught:
        client.write_file(sid, "../escape.txt", "no")
    assert caught.value.status_code == 400
    with pytest.raises(BadRequest):
        client.read_file(sid, "/etc/passwd")


def test_run_echo(client: ReplClient, sid: str) -> None:
    result = client.run(sid, "echo hi")
    assert isinstance(result, RunResult)
    assert (result.stdout, result.stderr, result.id) == ("hi\n", "", sid)
    assert result.exit_code == 0 and not result.timed_out and result.ok


def test_run_sees_session_files_stdin_and_exit_code(client: ReplClient, sid: str) -> None:
    client.write_file(sid, "main.py", "import sys\nprint(sys.stdin.read().upper())\n")
    assert client.run(sid, "python3 main.py", stdin="shout").stdout == "SHOUT\n"
    failed = client.run(sid, "echo oops >&2; exit 3")
    assert (failed.exit_code, failed.stderr, failed.ok) == (3, "oops\n", False)


def test_run_timeout(client: ReplClient, sid: str) -> None:
    result = client.run(sid, "sleep 10", timeout=1)
    assert result.timed_out and not result.ok


def test_run_in_missing_session_is_bad_request(client: ReplClient) -> None:
    with pytest.raises(BadRequest) as caught:
        client.run(f"missing-{uuid.uuid4().hex}", "echo hi")
    assert caught.value.detail == "Session does not exist"


def test_run_timeout_above_maximum_fails_validation(client: ReplClient, sid: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        client.run(sid, "true", timeout=10**7)
    assert "maximum" in str(caught.value)


def test_evaluate_add(client: ReplClient, sid: str) -> None:
    result = client.evaluate_code(sid, ADD_SOURCE, "add", [("1, 2", "3"), ("2, 2", "5")])
    assert isinstance(result, EvaluationResult)
    assert result.passed is False and result.error is None
    first, second = result.case_results
    assert (first.case, first.passed, first.got, first.expected) == (0, True, 3, 3)
    assert first.status == "passed"
    assert (second.case, second.passed, second.got, second.expected) == (1, False, 4, 5)
    assert second.status == "failed"
    assert (first.score, second.score, result.score, result.passed_count) == (1.0, 0.0, 0.5, 1)

    passing = client.evaluate_code(sid, ADD_SOURCE, "add", [{"input": "a=1, b=2", "output": "3"}])
    assert passing.passed is True


def test_evaluate_with_tolerance_and_stop_on_first_failure(client: ReplClient, sid: str) -> None:
    cases = [("0.1, 0.2", "0.3"), ("1, 1", "3"), ("2, 2", "4")]
    exact = client.evaluate_code(sid, ADD_SOURCE, "add", cases, stop_on_first_failure=True)
    assert [c.status for c in exact.case_results] == ["failed", "skipped", "skipped"]
    tolerant = client.evaluate_code(sid, ADD_SOURCE, "add", cases, float_tolerance=1e-9,
                                    stop_on_first_failure=True)
    assert [c.status for c in tolerant.case_results] == ["passed", "failed", "skipped"]


def test_evaluate_with_isolation(client: ReplClient, sid: str) -> None:
    code = "import os\ndef f(k):\n    return os.environ.setdefault('FIRST', str(k))\n"
    cases = [("1", "'1'"), ("2", "'1'")]
    shared = client.evaluate_code(sid, code, "f", cases)
    assert [c.status for c in shared.case_results] == ["passed", "passed"]
    apart = client.evaluate_code(sid, code, "f", cases, isolation="case")
    assert [c.status for c in apart.case_results] == ["passed", "failed"]
    (batched,) = client.evaluate_batch([{"id": sid, "code": code, "entry_point": "f", "isolation": "case",
                                         "io_cases": [list(c) for c in cases]}])
    assert isinstance(batched, EvaluationResult) and [c.status for c in batched.case_results] == ["passed", "failed"]


def test_evaluate_with_tests(client: ReplClient, sid: str) -> None:
    check = "def check(candidate):\n    assert candidate(1, 2) == 3\n    assert candidate(2, 2) == 5\n"
    result = client.evaluate_code(sid, ADD_SOURCE, "add", [("0, 0", "0")], tests=check)
    assert [(c.input, c.status) for c in result.case_results] == [("0, 0", "passed"), ("check(add)", "failed")]
    assert (result.case_results[1].got, result.case_results[1].expected) == (4, 5)
    (asserts,) = client.evaluate_batch([{"id": sid, "code": ADD_SOURCE, "tests": "assert add(1, 1) == 2\n"}])
    assert isinstance(asserts, EvaluationResult) and asserts.passed is True


def test_evaluate_with_tests_alone_needs_no_io_cases(client: ReplClient, sid: str, service: Any) -> None:
    """io_cases may be left out with tests (docs/api.md §4.2), in both clients, and so may
    entry_point where the tests do not call for it."""
    from repl_client import AsyncReplClient

    result = client.evaluate_code(sid, ADD_SOURCE, "add", tests="assert add(1, 2) == 3\n")
    assert result.passed is True and [c.input for c in result.case_results] == ["assert add(1, 2) == 3"]
    alone = client.evaluate_code(sid, ADD_SOURCE, tests="assert add(2, 2) == 5\n")
    assert [c.status for c in alone.case_results] == ["failed"]

    async def main() -> EvaluationResult:
        async with AsyncReplClient(service.url, token=getattr(service, "token", None)) as repl:
            return await repl.evaluate_code(sid, ADD_SOURCE, "add", tests="def check(candidate):\n"
                                                                           "    assert candidate(1, 2) == 3\n")

    checked = asyncio.run(main())
    assert checked.passed is True and checked.case_results[0].input == "check(add)"


def test_evaluate_program_cases(client: ReplClient, sid: str) -> None:
    code = "a, b = map(float, input().split())\nprint(a / b)"
    cases = [{"stdin": "1 3", "stdout": "0.333333"}, {"stdin": "1 0", "stdout": "0"}]
    result = client.evaluate_code(sid, code, None, cases, compare="float", stop_on_first_failure=True)
    assert [c.status for c in result.case_results] == ["passed", "error"]
    assert result.case_results[0].got == "0.3333333333333333\n"
    assert "ZeroDivisionError" in (result.case_results[1].stderr or "")
    prolog = client.evaluate_code(sid, "main :- read(X), write(X), nl.\n", None, [{"stdin": "hi.", "stdout": "hi"}],
                                  main_file="main.pl", cmd='swipl -g main -t halt "$PROGRAM"')
    assert prolog.passed is True


def test_evaluate_with_a_checker_in_both_clients(client: ReplClient, sid: str, service: Any) -> None:
    """A checker (docs/api.md §4.3) goes through both clients and a batch."""
    from repl_client import AsyncReplClient

    any_order = {"code": "def check(input, expected, output):\n    return sorted(output) == sorted(expected)\n"}
    code = "def pair(a, b):\n    return [b, a] if a < b else [a, a]\n"
    cases = [("1, 2", "[1, 2]"), ("2, 1", "[1, 2]")]
    result = client.evaluate_code(sid, code, "pair", cases, checker=any_order)
    assert [c.status for c in result.case_results] == ["passed", "failed"]
    (batched,) = client.evaluate_batch([{"id": sid, "code": code, "entry_point": "pair", "io_cases": cases[:1],
                                         "checker": any_order}])
    assert isinstance(batched, EvaluationResult) and batched.passed is True

    async def main() -> EvaluationResult:
        async with AsyncReplClient(service.url, token=getattr(service, "token", None)) as repl:
            return await repl.evaluate_code(sid, "print(2, 1)", None, [{"stdin": "", "stdout": "1 2"}],
                                            checker={"cmd": 'test "$(tr -d " " < "$2")" = 12 || exit 1; true'})

    assert asyncio.run(main()).case_results[0].status == "failed"


def test_evaluate_with_an_interactor_in_both_clients(client: ReplClient, sid: str, service: Any) -> None:
    """An interactor (docs/api.md §4.4) goes through both clients."""
    from repl_client import AsyncReplClient

    doubler = {"code": "def interact(input, answer, receive, send):\n"
                       "    send(input)\n    return receive() == answer\n"}
    program = "print(int(input()) * 2)"
    cases = [{"stdin": "21", "stdout": "42"}, {"stdin": "1", "stdout": "3"}]
    result = client.evaluate_code(sid, program, None, cases, interactor=doubler)
    assert [c.status for c in result.case_results] == ["passed", "failed"]

    async def main() -> EvaluationResult:
        async with AsyncReplClient(service.url, token=getattr(service, "token", None)) as repl:
            return await repl.evaluate_code(sid, program, None, cases[:1], interactor=doubler)

    assert asyncio.run(main()).passed is True


def test_evaluate_syntax_error(client: ReplClient, sid: str) -> None:
    result = client.evaluate_code(sid, "def add(a, b) return a", "add", [("1, 2", "3")])
    assert result.passed is False
    assert result.error is not None and "SyntaxError" in result.error


def test_fork_session(client: ReplClient, sid: str) -> None:
    client.write_file(sid, "a.txt", "original")
    copy = client.fork_session(sid)
    try:
        assert copy != sid
        assert client.read_file(copy, "a.txt") == "original"
        client.write_file(copy, "a.txt", "changed in the copy")
        assert client.read_file(sid, "a.txt") == "original"
    finally:
        client.delete_session(copy)
    with pytest.raises(NotFound):
        client.fork_session(f"missing-{uuid.uuid4().hex}")


def test_deleted_session_is_not_found(client: ReplClient) -> None:
    session_id = client.create_session()
    client.delete_session(session_id)
    with pytest.raises(NotFound):
        client.list_files(session_id)
    with pytest.raises(NotFound):
        client.delete_session(session_id)


def test_evaluate_batch(client: ReplClient, sid: str) -> None:
    crash = "import os\ndef add(a, b):\n    os.abort()"
    submissions: list[dict[str, Any]] = [
        {"id": sid, "code": ADD_SOURCE, "entry_point": "add", "io_cases": [("1, 2", "3")]},
        {"id": sid, "code": ADD_SOURCE, "entry_point": "add", "io_cases": [("1, 2", "4")], "timeout": 2},
        {"id": sid, "code": crash, "entry_point": "add", "io_cases": [("1, 2", "3")]},
    ]
    passing, failing, crashing = client.evaluate_batch(submissions)
    assert isinstance(passing, EvaluationResult) and passing.passed is True
    assert isinstance(failing, EvaluationResult) and failing.case_results[0].got == 3
    assert isinstance(crashing, EvaluationResult) and crashing.case_results[0].status == "crashed"
    assert [(r.score, r.passed_count) for r in (passing, failing, crashing)] == [(1.0, 1), (0.0, 0), (0.0, 0)]
    with pytest.raises(ValidationFailed) as caught:
        client.evaluate_batch([submissions[0], {**submissions[0], "timeout": 10**7}])
    assert "submissions.1.timeout" in str(caught.value)


def test_the_async_client_against_the_service(service: Any) -> None:
    from repl_client import AsyncReplClient

    async def main() -> None:
        async with AsyncReplClient(service.url, token=getattr(service, "token", None)) as client:
            assert await client.ping() is True and (await client.readyz())["ready"] is True
            assert await client.healthz() == {"status": "ok"}
            sid = await client.create_session()
            try:
                await client.write_file(sid, "data.bin", b"\x00\xff")
                assert await client.read_file(sid, "data.bin", encoding="base64") == b"\x00\xff"
                assert [entry.path for entry in await client.list_files(sid)] == ["data.bin"]
                ran = await client.run(sid, "wc -c < data.bin", timeout=10)
                assert ran.ok and ran.stdout.strip() == "2"
                # Two calls at once on one client, and a batch beside them.
                single, batch = await asyncio.gather(
                    client.evaluate_code(sid, ADD_SOURCE, "add", [("1, 2", "3")]),
                    client.evaluate_batch([{"id": sid, "code": ADD_SOURCE, "entry_point": "add",
                                            "io_cases": [(f"{i}, 1", str(i + 1))]} for i in range(10)]))
                assert single.passed is True and (single.score, single.passed_count) == (1.0, 1)
                flood = await client.evaluate_code(sid, "print('x' * 1000000)", None, [{"stdin": "", "stdout": "x"}])
                assert (flood.case_results[0].status, flood.case_results[0].score, flood.score) == (
                    "output_limit", 0.0, 0.0)
                tested = await client.evaluate_code(sid, ADD_SOURCE, None, [], tests="assert add(1, 2) == 3\n",
                                                    isolation="case")
                assert tested.passed is True and tested.case_results[0].input == "assert add(1, 2) == 3"
                assert [r.case_results[0].got for r in batch if isinstance(r, EvaluationResult)] == list(range(1, 11))
                with pytest.raises(BadRequest):
                    await client.run(f"missing-{uuid.uuid4().hex}", "true")
            finally:
                await client.delete_session(sid)

    asyncio.run(main())
