"""Limits are discoverable: `GET /limits` lists every default and maximum, `/openapi.json`
carries the same maxima in the request schemas, and each operation's example in the
document is a request the real service accepts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from protocol import limits, models
from tests.support.service import Service, start_service
from webapp.openapi import EXAMPLES

CONFIGURED = {"REPL_MAX_CASES": "77", "REPL_MAX_EVAL_TIMEOUT": "12.5", "REPL_EVAL_TIMEOUT": "3",
              "REPL_MAX_RUN_TIMEOUT": "40", "REPL_MAX_EVAL_MEMORY_MB": "700", "REPL_DISK_QUOTA_MB": "33",
              "REPL_MAX_JUDGE_TIMEOUT": "7", "REPL_MAX_JUDGE_CHARS": "5000"}


@pytest.fixture(scope="module")
def configured() -> Iterator[Service]:
    svc = start_service(CONFIGURED)
    yield svc
    svc.stop()


def test_limits_lists_the_configured_defaults_and_maxima(configured: Service) -> None:
    response = configured.get("/limits")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["evaluate"]["io_cases"] == {"maximum": 77, "unit": "cases"}
    assert body["evaluate"]["timeout"] == {"maximum": 12.5, "default": 3.0, "unit": "s"}
    assert body["evaluate"]["memory_limit_mb"]["maximum"] == 700
    assert body["run"]["timeout"]["maximum"] == 40.0
    assert body["session"]["disk_quota"] == {"value": 33, "unit": "MiB"}
    assert body["judge"]["timeout"] == {"maximum": 7.0, "default": 5.0, "unit": "s"}
    assert body["judge"]["code"]["maximum"] == 5000
    assert body["judge"]["files"]["value"] == limits.MAX_JUDGE_FILES


def test_a_checker_is_held_to_the_listed_maxima(configured: Service) -> None:
    judge = configured.get("/limits").json()["judge"]
    base = {"id": "scratch-x", "code": "print(1)", "io_cases": [{"stdin": "", "stdout": "1"}]}
    check = "def check(input, expected, output):\n    return True\n"
    top = judge["timeout"]["maximum"]
    assert configured.post("/evaluate_code", {**base, "checker": {"code": check, "timeout": top}}).status_code == 200
    refused = configured.post("/evaluate_code", {**base, "checker": {"code": check, "timeout": top + 1}})
    assert refused.status_code == 422 and "at most 7.0 s" in refused.text
    most = judge["code"]["maximum"]
    padded = check + "#" * (most - len(check))
    assert configured.post("/evaluate_code", {**base, "checker": {"code": padded}}).status_code == 200
    refused = configured.post("/evaluate_code", {**base, "checker": {"code": check, "files": {"a.txt": padded}}})
    assert refused.status_code == 422 and "at most 5000 characters" in refused.text
    files = {f"f{i}": "" for i in range(judge["files"]["value"] + 1)}
    refused = configured.post("/evaluate_code", {**base, "checker": {"code": check, "files": files}})
    assert refused.status_code == 422 and "at most 16 files" in refused.text


def test_the_listed_maxima_are_the_enforced_ones(configured: Service) -> None:
    limits_body = configured.get("/limits").json()
    most = limits_body["evaluate"]["io_cases"]["maximum"]
    case = {"input": "1", "output": "1"}
    base = {"id": "scratch-x", "code": "def f(x):\n    return x", "entry_point": "f"}
    assert configured.post("/evaluate_code", {**base, "io_cases": [case] * most}).status_code == 200
    refused = configured.post("/evaluate_code", {**base, "io_cases": [case] * (most + 1)})
    assert refused.status_code == 422 and str(most) in refused.text
    top = limits_body["evaluate"]["timeout"]["maximum"]
    assert configured.post("/evaluate_code", {**base, "io_cases": [case], "timeout": top}).status_code == 200
    assert configured.post("/evaluate_code", {**base, "io_cases": [case], "timeout": top + 0.5}).status_code == 422


def _schema(document: dict[str, Any], model: str, field: str) -> dict[str, Any]:
    return document["components"]["schemas"][model]["properties"][field]


def test_openapi_carries_the_maxima(configured: Service) -> None:
    document = configured.get("/openapi.json").json()
    assert _schema(document, "EvaluateRequest", "io_cases")["maxItems"] == 77
    timeout = _schema(document, "EvaluateRequest", "timeout")
    assert {"type": "number", "maximum": 12.5}.items() <= timeout["anyOf"][0].items()
    assert timeout["default"] == 3.0
    assert _schema(document, "RunRequest", "timeout")["anyOf"][0]["maximum"] == 40.0
    for bound in limits.BOUNDS:  # every bound is described, none is forgotten
        prop = _schema(document, bound.model or models.OPERATIONS[bound.op][0].__name__, bound.field)
        branches = prop.get("anyOf", [prop])
        keys = ("maxItems", "maxLength") if bound.count else ("maximum",)
        assert any(b.get(key) is not None for b in branches for key in keys), bound
    assert _schema(document, "EvaluateRequest", "tests")["anyOf"][0]["maxLength"] == 256 << 10
    assert _schema(document, "Judge", "timeout")["anyOf"][0]["maximum"] == 7.0
    assert _schema(document, "Judge", "code")["anyOf"][0]["maxLength"] == 5000


def test_every_example_is_in_the_document_and_valid(configured: Service) -> None:
    document = configured.get("/openapi.json").json()
    for path, operations in document["paths"].items():
        for operation in operations.values():
            if operation.get("tags") != ["api"]:
                continue
            body = operation.get("requestBody")
            example = (body["content"]["application/json"]["example"] if body else
                       {p["name"]: p["example"] for p in operation["parameters"] if "example" in p})
            assert example == EXAMPLES[operation["operationId"]], path
            models.OPERATIONS[operation["operationId"]][0].model_validate(example)


def test_the_examples_succeed_against_the_service(configured: Service) -> None:
    order = ["write_file", "read_file", "run", "evaluate", "evaluate_batch", "list_files", "fork_session",
             "create_session", "rename_file", "write_file", "delete_file", "delete_session"]
    assert set(order) == set(EXAMPLES)
    paths = {"evaluate": "/evaluate_code", "run": "/run"}
    for op in order:
        path = paths.get(op, f"/{op}")
        if op in ("read_file", "list_files"):
            response = configured.get(path, params=EXAMPLES[op])
        else:
            response = configured.post(path, EXAMPLES[op])
        assert response.status_code == 200, (op, response.text)
    configured.post("/delete_session", {"id": "demo-2"})
