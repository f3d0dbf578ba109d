"""/run against the real sandbox (docs/api.md §5)."""

from __future__ import annotations

import concurrent.futures
import time

from tests.support.service import Service


def test_run_shape_and_exit_code(service: Service, session_id: str):
    result = service.run(session_id, "cat hello.txt; echo oops >&2; exit 3")
    assert result == {**result, "stdout": "hello\n", "stderr": "oops\n", "id": session_id, "exit_code": 3,
                      "timed_out": False, "truncated": False}
    assert result["duration_ms"] > 0


def test_missing_session_is_400_with_the_original_detail(service: Service):
    response = service.post("/run", {"id": "no-such-session-here", "cmd": "ls"})
    assert response.status_code == 400 and response.json() == {"detail": "Session does not exist"}


def test_stdin_is_fed(service: Service, session_id: str):
    assert service.run(session_id, "tr a-z A-Z", stdin="shout\n")["stdout"] == "SHOUT\n"


def test_large_stdin_does_not_deadlock(service: Service, session_id: str):
    data = "y" * (3 << 20)
    result = service.run(session_id, "wc -c", stdin=data)
    assert result["stdout"].strip() == str(len(data))


def test_timeout_kills_the_command_and_its_children(service: Service, session_id: str):
    started = time.monotonic()
    result = service.run(session_id, "sleep 30 & sleep 30; echo never", timeout=1)
    assert result["timed_out"] is True and result["exit_code"] != 0 and "never" not in result["stdout"]
    assert time.monotonic() - started < 10
    assert "sleep" not in service.run(session_id, "ps -eo comm")["stdout"]


def test_output_is_capped_and_marked_truncated(service: Service, session_id: str):
    result = service.run(session_id, "yes | head -c 5000000; echo done >&2")
    assert result["truncated"] is True
    assert len(result["stdout"]) == 1 << 20


def test_python_and_prolog_are_available(service: Service, session_id: str):
    assert service.run(session_id, "python3 -c 'print(6 * 7)'")["stdout"] == "42\n"
    prolog = service.run(session_id, "swipl -g 'X is 1+2, write(X), nl' -t halt")
    assert prolog["stdout"] == "3\n", prolog


def test_timeout_above_the_maximum_is_422(service: Service, session_id: str):
    response = service.post("/run", {"id": session_id, "cmd": "true", "timeout": 10_000})
    assert response.status_code == 422 and "maximum" in response.text


def test_long_runs_do_not_block_other_requests(service: Service, session_id: str):
    """Ten concurrent `sleep 2` runs and a ping all answer promptly."""
    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        started = time.monotonic()
        runs = [pool.submit(service.run, session_id, "sleep 2") for _ in range(10)]
        time.sleep(0.3)
        ping_started = time.monotonic()
        assert service.get("/").json() == "ping"
        ping = time.monotonic() - ping_started
        evaluation = service.evaluate("def f():\n    return 1", "f", [("", "1")])
        results = [r.result() for r in runs]
        elapsed = time.monotonic() - started
    assert ping < 1.0 and evaluation["passed"] is True
    assert all(r["exit_code"] == 0 for r in results)
    assert elapsed < 8, f"ten parallel sleeps took {elapsed:.1f}s"


def test_concurrent_requests_across_sessions_stay_separate(service: Service):
    def work(n: int) -> tuple[int, str, dict]:
        sid = f"conc-{n}"
        service.write(sid, "n.txt", str(n))
        out = service.run(sid, "cat n.txt; ls")["stdout"]
        result = service.evaluate("def f(x):\n    return int(open('n.txt').read()) + x", "f", [("1", str(n + 1))],
                                  session=sid)
        return n, out, result

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        for n, out, result in pool.map(work, range(16)):
            assert out == f"{n}n.txt\n"
            assert result["passed"] is True, result


ARGUMENT_BYTES = 128 * 1024 - 1  # one exec argument, its NUL aside: the kernel's MAX_ARG_STRLEN


def _command_of(size: int, filler: str = "x") -> str:
    """A command of `size` bytes of UTF-8 that prints its own length (a comment fills it)."""
    head = "echo ran #"
    return head + filler * ((size - len(head)) // len(filler.encode()))


def test_a_command_up_to_the_argument_limit_runs(service: Service, session_id: str):
    command = _command_of(ARGUMENT_BYTES)
    assert len(command.encode()) == ARGUMENT_BYTES
    result = service.run(session_id, command)
    assert (result["exit_code"], result["stdout"]) == (0, "ran\n"), result


def test_a_longer_command_is_refused_naming_the_limit(service: Service, session_id: str):
    """Past one exec argument `sh -c` cannot be started at all: refused before anything
    runs, with the limit and the way round it, not a 200 with exit code 127."""
    limit = service.get("/limits").json()["run"]["cmd"]
    assert limit["value"] == ARGUMENT_BYTES and "bytes" in limit["unit"]
    for command in (_command_of(ARGUMENT_BYTES + 1), _command_of(ARGUMENT_BYTES - 1, "é") + "éé",
                    _command_of(1 << 20)):
        response = service.post("/run", {"id": session_id, "cmd": command})
        assert response.status_code == 422, (len(command.encode()), response.text[:300])
        assert str(ARGUMENT_BYTES) in response.text and "file" in response.text, response.text[:300]
    for field in ("cmd", "compile"):
        response = service.post("/evaluate_code", {"id": session_id, "code": "print(1)", field: _command_of(1 << 18),
                                                   "io_cases": [{"stdin": "", "stdout": "1"}]})
        assert response.status_code == 422 and str(ARGUMENT_BYTES) in response.text, response.text[:300]
