"""Program (stdin/stdout) cases: a program's only say in its verdict is its stdout
(docs/api.md §7.7). The expected output stays in the sandbox's init, which compares;
the program can neither find it nor forge the verdict."""

from __future__ import annotations

import uuid

from tests.security.support import hostile, new_session
from tests.support.service import Service


def evaluate(service: Service, name: str, cases: list[tuple[str, str]], session: str) -> dict:
    body = {"id": session, "code": hostile(name), "io_cases": [{"stdin": i, "stdout": o} for i, o in cases]}
    response = service.post("/evaluate_code", body)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_program_cannot_find_its_expected_output(service: Service):
    session = new_session(service)
    planted = f"planted-{uuid.uuid4().hex}"
    service.write(session, "notes/planted.txt", f"the control: {planted}\n")  # where the search looks
    secrets = [f"answer-{uuid.uuid4().hex}" for _ in range(3)]
    cases = [("planted-", planted)] + [("answer-", secret) for secret in secrets]
    result = evaluate(service, "program_seek_answer.py", cases, session)
    control, *attacks = result["case_results"]
    assert control["status"] == "passed", control  # the search works: it finds what is there
    for case, secret in zip(attacks, secrets, strict=True):
        assert case["status"] == "failed" and case["got"] == "nothing\n", case
        assert case["expected"] == secret
    assert result["passed"] is False


def test_a_program_that_prints_a_verdict_does_not_pass(service: Service):
    marker = f"answer-{uuid.uuid4().hex}"
    result = evaluate(service, "program_fake_verdict.py", [("", marker), ("", marker)], "scratch-fake-verdict")
    assert result["passed"] is False and result["score"] == 0.0 and result["passed_count"] == 0, result
    assert len(result["case_results"]) == 2
    for index, case in enumerate(result["case_results"]):
        assert case["case"] == index and case["status"] == "failed" and case["passed"] is False, case
        assert case["score"] == 0.0, case
        assert case["expected"] == marker and '"passed": true' in case["got"], case


def test_a_program_cannot_pass_for_one_that_ran_out_of_memory(service: Service):
    """`memory` comes from the kernel's record of what the case held (docs/api.md §4.1):
    the service's words printed, address space reserved and never used, and a limit of
    its own lowered to what it holds do not make a small program's crash `memory`."""
    body = {"id": "scratch-forge-memory", "code": hostile("program_forge_memory_verdict.py"),
            "io_cases": [{"stdin": "", "stdout": ""}], "memory_limit_mb": 256}
    response = service.post("/evaluate_code", body)
    assert response.status_code == 200, response.text
    case = response.json()["case_results"][0]
    assert case["status"] == "crashed" and case["error"].startswith("Crashed: killed by signal SIGSEGV"), case
    assert case["peak_memory_kb"] < 64 << 10, case


def test_a_limit_lowered_by_the_program_is_not_the_case_memory_limit(service: Service):
    body = {"id": "scratch-forge-memory", "code": hostile("lower_own_memory_limit.sh"), "cmd": 'sh "$PROGRAM"',
            "io_cases": [{"stdin": "", "stdout": ""}], "memory_limit_mb": 256}
    response = service.post("/evaluate_code", body)
    assert response.status_code == 200, response.text
    case = response.json()["case_results"][0]
    assert case["status"] in ("crashed", "error") and case["passed"] is False, case
    assert "MemoryLimitExceeded" not in case["error"], case
