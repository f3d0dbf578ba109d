"""Cases that share a process (`isolation: "request"`, docs/api.md §4) cannot change each
other's verdicts but through the values their own calls return: a case that rewrites the
harness's report path, builtins or `sys.modules`, or leaves signal handlers and timers
behind, makes no later case pass. The expected value never enters the process, so a
wrong solution fails whatever its process claims. Each attack has a control: the same
shape with a right answer passes, so the attack fails for the reason claimed."""

from __future__ import annotations

from typing import Any

import pytest

from tests.security.support import hostile
from tests.support.service import Service

MODES = ("request", "case")
CASES = [(str(k), str(k * 10)) for k in range(4)]


def evaluate(service: Service, code: str, isolation: str, **extra: Any) -> list[dict[str, Any]]:
    body = {"id": "scratch-shared", "code": code, "entry_point": "f", "isolation": isolation,
            "io_cases": [{"input": i, "output": o} for i, o in CASES], **extra}
    response = service.post("/evaluate_code", body)
    assert response.status_code == 200, response.text
    return response.json()["case_results"]


@pytest.mark.parametrize("isolation", MODES)
@pytest.mark.parametrize("attack", ["shared_patch_report.py", "shared_patch_builtins.py"])
def test_a_case_that_rewrites_the_harness_passes_no_later_case(service: Service, isolation: str,
                                                               attack: str) -> None:
    results = evaluate(service, hostile(attack), isolation)
    assert not any(r["passed"] for r in results), results
    assert all(r["expected"] == int(o) for r, (_, o) in zip(results, CASES, strict=True)), results


@pytest.mark.parametrize("isolation", MODES)
def test_signal_handlers_and_timers_of_one_case_pass_no_later_case(service: Service, isolation: str) -> None:
    results = evaluate(service, hostile("shared_signal_forge.py"), isolation, cpu_limit=0.5, timeout=10)
    assert not any(r["passed"] for r in results), results
    assert results[3]["status"] == "timeout", "SIGXCPU ignored: the CPU limit is held from outside"


@pytest.mark.parametrize("isolation", MODES)
def test_the_control_a_right_answer_after_the_same_patches_passes(service: Service, isolation: str) -> None:
    """The report path rewritten in case 0 still carries a later case's own value: with
    the right value it passes, so the attack above fails because its values are wrong."""
    code = hostile("shared_patch_report.py").replace("    return -1\n", "    return k * 10\n")
    code = code.replace('"got": {"$": "opaque", "repr": "ok"},', "").replace('"got": 42, ', "")
    results = evaluate(service, code, isolation)
    assert [r["status"] for r in results] == ["passed"] * 4, results
