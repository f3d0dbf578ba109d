"""A case or command killed by any signal, real-time ones included, is reported `crashed`
with the signal's name (`SIGRTMIN+6`), never a 500 that loses the request's other cases
(supervisor/sandbox/verdicts.py)."""

from __future__ import annotations

import signal
from typing import Any

import pytest

from tests.support.service import Service

RT = signal.SIGRTMIN + 6  # 40 on Linux: no entry in signal.Signals
RT_NAME = "SIGRTMIN+6"
SELF_KILL = f"import os\ndef f():\n    os.kill(os.getpid(), {RT})\n"


def evaluate(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    response = service.post("/evaluate_code", {"id": "scratch-signals", **body})
    assert response.status_code == 200, response.text
    return response.json()


def test_a_function_case_killed_by_a_real_time_signal(service: Service) -> None:
    result = evaluate(service, {"code": SELF_KILL + "def g():\n    return 1\n", "entry_point": "f",
                                "io_cases": [{"input": "", "output": "1"}]})
    case = result["case_results"][0]
    assert (case["status"], case["error"]) == ("crashed", f"Crashed: killed by signal {RT_NAME}")
    other = evaluate(service, {"code": SELF_KILL + "def g():\n    return 1\n", "entry_point": "g",
                               "io_cases": [{"input": "", "output": "1"}]})
    assert other["passed"]


def test_the_other_cases_of_the_request_are_kept(service: Service) -> None:
    code = f"import os\ndef f(x):\n    if x == 2:\n        os.kill(os.getpid(), {RT})\n    return x\n"
    result = evaluate(service, {"code": code, "entry_point": "f",
                                "io_cases": [{"input": str(i), "output": str(i)} for i in (1, 2, 3)]})
    assert [c["status"] for c in result["case_results"]] == ["passed", "crashed", "passed"]


@pytest.mark.parametrize("extra", [
    {"code": f"import os\nos.kill(os.getpid(), {RT})\n"},
    {"code": "", "cmd": f"kill -{RT} $$"},
], ids=["python", "cmd"])
def test_a_program_case_killed_by_a_real_time_signal(service: Service, extra: dict[str, Any]) -> None:
    result = evaluate(service, {**extra, "io_cases": [{"stdin": "", "stdout": ""}]})
    case = result["case_results"][0]
    assert case["status"] == "crashed" and case["error"].startswith(f"Crashed: killed by signal {RT_NAME}")


def test_a_compile_step_killed_by_a_real_time_signal(service: Service) -> None:
    result = evaluate(service, {"code": "print(1)", "compile": f"kill -{RT} $$",
                                "io_cases": [{"stdin": "", "stdout": "1"}]})
    assert result["error"] == f"CompileError: killed by signal {RT_NAME}"
    assert [c["status"] for c in result["case_results"]] == ["error"]


def test_a_command_killed_by_a_real_time_signal(service: Service, session_id: str) -> None:
    service.write(session_id, "x.txt", "x")
    result = service.run(session_id, f"kill -{RT} $$")
    assert result["exit_code"] == -RT


def test_a_test_code_solution_killed_by_a_real_time_signal(service: Service) -> None:
    result = evaluate(service, {"code": SELF_KILL, "entry_point": "f", "tests": "assert f() is None\n"})
    case = result["case_results"][0]
    assert (case["status"], case["error"]) == ("crashed", f"Crashed: killed by signal {RT_NAME}")


def test_a_test_code_solution_that_signals_the_tests_process(service: Service) -> None:
    code = f"import os\ndef f():\n    os.kill(os.getppid(), {RT})\n    return 1\n"
    result = evaluate(service, {"code": code, "entry_point": "f", "tests": "assert f() == 1\n"})
    case = result["case_results"][0]
    assert (case["status"], case["error"]) == ("crashed", f"Crashed: killed by signal {RT_NAME}")


def test_a_batch_item_killed_by_a_real_time_signal(service: Service) -> None:
    crash = {"id": "scratch-signals", "code": SELF_KILL, "entry_point": "f", "io_cases": [{"input": "", "output": "1"}]}
    fine = {**crash, "code": "def f():\n    return 1\n"}
    response = service.post("/evaluate_batch", {"submissions": [crash, fine]})
    assert response.status_code == 200, response.text
    items = response.json()["results"]
    assert [item["status"] for item in items] == [200, 200]
    assert items[0]["case_results"][0]["status"] == "crashed" and items[1]["passed"]
