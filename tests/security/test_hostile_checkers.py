"""Checkers and interactors are the grader's code, but a mistaken or hostile one must not
take the service down, lose requests or leave anything behind (docs/api.md §4.3): a
checker that forks until it cannot, fills every place it may write, closes its streams
and hangs, floods both streams, or a compile step that hangs; many such requests at once.
After each, the sandbox pool comes back and a normal request is judged."""

from __future__ import annotations

import concurrent.futures
import time
import uuid
from typing import Any

from tests.security.support import assert_normal_evaluation, assert_nothing_left, hostile
from tests.support.service import Service


def judged(service: Service, checker: dict[str, Any], stdin: str = "", **extra: Any) -> dict[str, Any]:
    body = {"id": "scratch-hostile-checkers", "code": "print(1)", "io_cases": [{"stdin": stdin, "stdout": "1"}],
            "checker": checker, **extra}
    response = service.post("/evaluate_code", body)
    for _ in range(20):  # 503: not executed (every sandbox busy), retry
        if response.status_code != 503:
            break
        time.sleep(0.5)
        response = service.post("/evaluate_code", body)
    assert response.status_code == 200, response.text
    return response.json()["case_results"][0]


def command(name: str, timeout: float = 1) -> dict[str, Any]:
    return {"cmd": "sh check.sh", "files": {"check.sh": hostile(name)}, "timeout": timeout}


def test_a_checker_that_forks_until_it_cannot_leaves_nothing(service: Service):
    marker = f"forker-{uuid.uuid4().hex[:8]}"
    case = judged(service, {"code": hostile("checker_fork_bomb.py"), "timeout": 5}, stdin=marker)
    assert case["status"] in ("passed", "error"), case  # accepted, or its own limits ended it first
    assert_nothing_left(marker)
    assert_normal_evaluation(service)


def test_a_checker_that_fills_the_disk_gets_its_space_back(service: Service):
    for _ in range(2):  # the second run finds the space free again
        case = judged(service, {"code": hostile("checker_fill_disk.py"), "timeout": 10})
        assert case["status"] == "failed", case
        assert case["error"].startswith("WrongAnswer: .: ENOSPC; /tmp: "), case
    assert_normal_evaluation(service)


def test_a_checker_that_closes_its_streams_and_hangs_is_ended_at_its_timeout(service: Service):
    case = judged(service, command("checker_silent_hang.sh"))
    assert case["status"] == "error" and case["error"] == "CheckerError: the checker passed its time limit (1 s)", case
    assert_normal_evaluation(service)


def test_a_checker_that_floods_both_streams_is_ended_at_its_timeout(service: Service):
    case = judged(service, command("checker_flood.sh"))
    assert case["status"] == "error", case
    assert case["error"].startswith("CheckerError: the checker passed its time limit (1 s)\nchecker-flood-err\n"), case
    assert len(case["error"]) < 8192, len(case["error"])
    assert_normal_evaluation(service)


def test_a_compile_step_that_hangs_fails_every_case_at_the_timeout(service: Service):
    checker = {**command("checker_silent_hang.sh"), "compile": "sh check.sh"}
    case = judged(service, checker)
    assert case["status"] == "error", case
    assert case["error"] == "CheckerError: the checker's compile step failed (the checker passed its time limit (1 s))"


def test_many_hostile_checkers_at_once_lose_no_request(service: Service):
    checkers = [command("checker_silent_hang.sh"), command("checker_flood.sh"),
                {"code": hostile("checker_fill_disk.py"), "timeout": 10},
                {"code": hostile("checker_fork_bomb.py"), "timeout": 5}] * 3
    marker = f"forker-{uuid.uuid4().hex[:8]}"
    with concurrent.futures.ThreadPoolExecutor(len(checkers)) as pool:
        cases = list(pool.map(lambda checker: judged(service, checker, stdin=marker), checkers))
    for checker, case in zip(checkers, cases, strict=True):
        assert case["status"] in ("passed", "failed", "error"), (checker, case)  # each judged, none lost
    assert_nothing_left(marker)
    for _ in range(3):  # every sandbox of the pool is back
        assert_normal_evaluation(service)
        assert judged(service, {"code": "def check(input, expected, output):\n    return output == '1\\n'\n"})[
            "status"] == "passed"
