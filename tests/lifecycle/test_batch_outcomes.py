"""A batch's submissions that could not run are answered one by one (docs/api.md §12):
a submission that found no sandbox in time is a 503 item beside the ones that ran, and
the whole batch is a 503 only when none of its submissions was started."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tests.lifecycle.conftest import running_service, wait_for
from tests.support.service import Service

QUEUE_WAIT = 3.0
HOLD = 5.0  # the /run that keeps the only sandbox busy: longer than one queue wait, shorter than two


@pytest.fixture(scope="module")
def narrow() -> Iterator[Service]:
    with running_service(REPL_POOL_SIZE=1, REPL_MAX_CONCURRENT_JOBS=1, REPL_MAX_QUEUE_WAIT=QUEUE_WAIT) as svc:
        yield svc


def submission(index: int) -> dict[str, Any]:
    return {"id": "scratch", "code": f"def f():\n    return {index}", "entry_point": "f",
            "io_cases": [{"input": "", "output": str(index)}]}


def _holding(svc: Service, session: str) -> threading.Thread:
    """Start a /run that holds the service's one sandbox, and wait until it does."""
    svc.write(session, "x", "")
    thread = threading.Thread(target=svc.run, args=(session, f"sleep {HOLD}"), daemon=True)
    thread.start()
    wait_for(lambda: svc.get("/readyz").json().get("busy") == 1, timeout=10)
    return thread


def test_a_submission_without_a_sandbox_is_a_503_item_beside_the_others(narrow: Service) -> None:
    # One submission at a time (the concurrency is 1): the first waits its whole queue wait
    # behind the /run and is answered "not executed"; the second, handed over then, starts
    # when the /run ends and runs.
    holder = _holding(narrow, "holder-1")
    response = narrow.post("/evaluate_batch", {"submissions": [submission(0), submission(1)]})
    holder.join()
    assert response.status_code == 200, response.text
    first, second = response.json()["results"]
    assert first["status"] == 503 and "not started" in first["detail"]
    assert set(first) == {"status", "detail"}
    assert second["status"] == 200 and second["passed"] is True


def test_a_batch_none_of_which_started_is_a_503(narrow: Service) -> None:
    holder = _holding(narrow, "holder-2")
    response = narrow.post("/evaluate_batch", {"submissions": [submission(0)]})
    holder.join()
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"]
    assert "no submission of the batch was started" in response.json()["detail"]
