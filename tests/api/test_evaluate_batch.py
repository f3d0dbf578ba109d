"""/evaluate_batch against the real service (docs/api.md §12): submissions run side by
side across the pool, answered in order, one submission's failure failing none of the others."""

from __future__ import annotations

import time
from typing import Any

from protocol import settings
from tests.support.service import Service

DEFAULTS = settings.load({})
HANG = "def f():\n    while True:\n        pass"
# A segfault: the case's process dies by a signal, as a crashing extension module would.
SEGFAULT = "import ctypes\ndef f():\n    return ctypes.string_at(0)"


def submission(code: str, output: str = "None", **extra: Any) -> dict[str, Any]:
    return {"id": "batch-scratch", "code": code, "entry_point": "f", "io_cases": [{"input": "", "output": output}],
            **extra}


def returning(index: int) -> dict[str, Any]:
    return submission(f"def f():\n    return {index}", str(index))


def test_fifty_with_one_hanging_and_one_crashing(service: Service) -> None:
    hanging, crashing = 17, 33
    batch = [returning(i) for i in range(50)]
    batch[hanging] = submission(HANG, timeout=1)
    batch[crashing] = submission(SEGFAULT)
    response = service.post("/evaluate_batch", {"submissions": batch}, timeout=120)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert len(results) == 50
    for index, result in enumerate(results):
        case = result["case_results"][0]
        if index == hanging:
            assert result["status"] == 200 and result["passed"] is False
            assert case["status"] == "timeout" and case["error"] == "Timeout"
        elif index == crashing:
            assert result["status"] == 200 and result["passed"] is False
            assert case["status"] == "crashed" and "SIGSEGV" in case["error"]
        else:
            # In order: each submission answers its own index.
            assert result == {**result, "status": 200, "passed": True, "error": None}, (index, result)
            assert case["got"] == index and case["status"] == "passed"


def test_submissions_run_at_the_same_time(service: Service) -> None:
    """Four one-second submissions (the test pool keeps four sandboxes warm) overlap."""
    code = "import time\ndef f():\n    start = time.time()\n    time.sleep(1)\n    return [start, time.time()]"
    started = time.monotonic()
    response = service.post("/evaluate_batch", {"submissions": [submission(code, "0")] * 4})
    elapsed = time.monotonic() - started
    assert response.status_code == 200, response.text
    spans = [result["case_results"][0]["got"] for result in response.json()["results"]]
    assert max(start for start, _ in spans) < min(end for _, end in spans), spans  # all four ran at once
    assert elapsed < 3.5


def test_each_submission_is_an_evaluation_of_its_own_session(service: Service, session_id: str) -> None:
    reads = submission("def f():\n    return open('hello.txt').read()", "'hello\\n'")
    response = service.post("/evaluate_batch", {"submissions": [{**reads, "id": session_id}, reads]})
    first, second = response.json()["results"]
    assert first["passed"] is True
    assert second["passed"] is False and "FileNotFoundError" in second["case_results"][0]["error"]


def test_a_syntax_error_is_that_submissions_answer(service: Service) -> None:
    response = service.post("/evaluate_batch", {"submissions": [submission("def f(:"), returning(1)]})
    broken, fine = response.json()["results"]
    assert broken["status"] == 200 and broken["error"].startswith("SyntaxError")
    assert fine["passed"] is True


def test_too_many_submissions_is_422_naming_the_maximum(service: Service) -> None:
    response = service.post("/evaluate_batch", {"submissions": [returning(0)] * (DEFAULTS.max_batch + 1)})
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "submissions"]
    assert f"at most {DEFAULTS.max_batch} submissions" in error["msg"]


def test_an_invalid_submission_is_located(service: Service) -> None:
    limit = DEFAULTS.max_eval_timeout
    bad = [returning(0), {**returning(1), "timeout": limit + 1}, {"id": "x", "code": "", "entry_point": "f"}]
    response = service.post("/evaluate_batch", {"submissions": bad})
    assert response.status_code == 422
    errors = {tuple(error["loc"]): error["msg"] for error in response.json()["detail"]}
    assert f"at most {limit:g}" in errors[("body", "submissions", 1, "timeout")]
    assert ("body", "submissions", 2, "io_cases") in errors
    assert not any(loc[2] == 0 for loc in errors if len(loc) > 2)


def test_an_empty_batch_is_invalid(service: Service) -> None:
    assert service.post("/evaluate_batch", {"submissions": []}).status_code == 422
    assert service.post("/evaluate_batch", {}).status_code == 422
