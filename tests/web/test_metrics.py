"""`GET /metrics`: Prometheus text, added up across the gunicorn workers, with the
supervisor's status at scrape time and `repl_supervisor_up 0` when it is down."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.support.service import Service, start_service


def scrape(service: Service) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = service.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_the_exposition_has_the_web_and_supervisor_metrics(service: Service) -> None:
    service.get("/healthz")
    samples = scrape(service)
    names = {name for name, _ in samples}
    assert value(samples, "repl_supervisor_up") == 1
    assert value(samples, "repl_supervisor_ready") == 1
    assert value(samples, "repl_pool_sandboxes", state="idle") >= 1
    assert ("repl_pool_sandboxes", frozenset({("state", "busy")})) in samples
    assert ("repl_pool_queue_depth", frozenset()) in samples
    for cause in ("backstop", "timeout"):
        assert ("repl_sandbox_kills_total", frozenset({("cause", cause)})) in samples
    assert {"repl_supervisor_jobs_done_total", "repl_supervisor_spawned_total"} <= names
    assert "repl_http_request_duration_seconds_bucket" in names
    assert value(samples, "repl_http_requests_total", method="GET", endpoint="/healthz", status="200") >= 1


def test_request_counts_add_up_across_workers(service: Service) -> None:
    """Each request opens its own connection, so the workers share them; a scrape answered
    by any one worker must still count every one."""
    before = scrape(service)
    n = 40
    for _ in range(n):
        assert requests.get(service.url + "/healthz", timeout=10).status_code == 200
    for _ in range(3):  # three scrapes, likely answered by different workers, agree
        after = scrape(service)
        labels = {"method": "GET", "endpoint": "/healthz", "status": "200"}
        total = "repl_http_requests_total"
        assert value(after, total, **labels) - value(before, total, **labels) == n
        count = "repl_http_request_duration_seconds_count"
        healthz = {"method": "GET", "endpoint": "/healthz"}
        assert value(after, count, **healthz) - value(before, count, **healthz) == n


def test_errors_are_counted_by_status_and_unknown_routes_share_one_label(service: Service) -> None:
    before = scrape(service)
    service.post("/run", {"id": f"missing-{uuid.uuid4().hex[:8]}", "cmd": "true"})
    requests.get(service.url + f"/no-such-{uuid.uuid4().hex}", timeout=10)
    after = scrape(service)
    for labels in ({"method": "POST", "endpoint": "/run", "status": "400"},
                   {"method": "GET", "endpoint": "<unmatched>", "status": "404"}):
        total = "repl_http_requests_total"
        assert value(after, total, **labels) - value(before, total, **labels) == 1
    assert value(after, "repl_rpc_errors_total", op="run", code="bad_request") > value(
        before, "repl_rpc_errors_total", op="run", code="bad_request")


def test_made_up_methods_share_one_label(service: Service) -> None:
    """A request line's method is the client's to make up: each new one must not add a
    series to every later scrape, so every method HTTP does not define is counted as
    `other`."""
    before = scrape(service)
    made_up = [f"QZX{uuid.uuid4().hex[:8].upper()}" for _ in range(3)]
    for method in made_up:
        requests.request(method, service.url + "/healthz", timeout=10)
    requests.request("DELETE", service.url + "/healthz", timeout=10)
    after = scrape(service)
    methods = {dict(labels).get("method") for _, labels in after}
    assert not methods & set(made_up), methods
    total = "repl_http_requests_total"
    other = {"method": "other", "endpoint": "<unmatched>", "status": "405"}  # no route takes it
    assert value(after, total, **other) - value(before, total, **other) == 3
    delete = {"method": "DELETE", "endpoint": "<unmatched>", "status": "405"}
    assert value(after, total, **delete) - value(before, total, **delete) == 1


def test_evaluation_outcomes_are_counted_by_case_status(service: Service) -> None:
    before = scrape(service)
    code = ("def f(x):\n"
            "    if x == 3:\n"
            "        raise ValueError('three')\n"
            "    if x == 4:\n"
            "        while True:\n"
            "            pass\n"
            "    return x\n")
    reply = service.evaluate(code, "f", [("1", "1"), ("2", "1"), ("3", "3"), ("4", "4"), ("5", "5")], timeout=0.5)
    assert [c["status"] for c in reply["case_results"]] == ["passed", "failed", "error", "timeout", "passed"]
    service.evaluate("def f(:\n", "f", [("1", "1")])
    after = scrape(service)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("repl_evaluation_cases_total", status="passed") == 2
    assert delta("repl_evaluation_cases_total", status="failed") == 1
    assert delta("repl_evaluation_cases_total", status="error") == 2  # the raise, and the SyntaxError's case
    assert delta("repl_evaluation_cases_total", status="timeout") == 1
    assert delta("repl_evaluations_total", result="failed") == 1
    assert delta("repl_evaluations_total", result="compile_error") == 1
    assert delta("repl_sandbox_kills_total", cause="timeout") == 1
    assert delta("repl_supervisor_jobs_done_total") >= 2
    assert delta("repl_rpc_duration_seconds_count", op="evaluate") == 2


def test_the_limit_statuses_are_labels_from_the_first_scrape(service: Service) -> None:
    """Every status of the API is exported at once (at 0), so rate() works from the start;
    a program past its output cap and one at its memory limit are counted under their own."""
    before = scrape(service)
    for status in ("passed", "failed", "error", "timeout", "memory", "output_limit", "crashed", "skipped"):
        assert ("repl_evaluation_cases_total", frozenset({("status", status)})) in before, status
    flood = service.post("/evaluate_code", {"id": "scratch-metrics", "code": "print('x' * 1000000)",
                                            "io_cases": [{"stdin": "", "stdout": "x"}]}).json()
    hog = service.post("/evaluate_code", {"id": "scratch-metrics", "code": "x = bytearray(1 << 30)",
                                          "io_cases": [{"stdin": "", "stdout": ""}], "memory_limit_mb": 256}).json()
    assert [flood["case_results"][0]["status"], hog["case_results"][0]["status"]] == ["output_limit", "memory"]
    after = scrape(service)
    for status in ("output_limit", "memory"):
        key = ("repl_evaluation_cases_total", frozenset({("status", status)}))
        assert after[key] - before[key] == 1, status


def test_run_outcomes_are_counted(service: Service, session_id: str) -> None:
    before = scrape(service)
    service.run(session_id, "true")
    service.run(session_id, "exit 3")
    assert service.run(session_id, "sleep 5", timeout=0.3)["timed_out"]
    after = scrape(service)
    for result in ("ok", "nonzero", "timeout"):
        assert value(after, "repl_run_commands_total", result=result) - value(
            before, "repl_run_commands_total", result=result) == 1, result
    assert value(after, "repl_sandbox_kills_total", cause="timeout") - value(
        before, "repl_sandbox_kills_total", cause="timeout") == 1


@pytest.fixture(scope="module")
def lone_web() -> Iterator[Service]:
    """A service whose supervisor is stopped once it is up."""
    svc = start_service()
    svc.stop_process("supervisor")
    yield svc
    svc.stop()


def test_metrics_answer_when_the_supervisor_is_down(lone_web: Service) -> None:
    assert lone_web.get("/healthz").status_code == 200
    started = time.monotonic()
    samples = scrape(lone_web)
    assert time.monotonic() - started < 5
    assert value(samples, "repl_supervisor_up") == 0
    assert not any(name.startswith(("repl_pool_", "repl_supervisor_ready")) for name, _ in samples)
    assert value(samples, "repl_http_requests_total", method="GET", endpoint="/healthz", status="200") == 1
