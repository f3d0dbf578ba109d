"""`/openapi.json` is generated from the models that validate requests and describes every
route; `/docs` renders it without anything from outside the service."""

from __future__ import annotations

import re
from typing import Any

import pytest
from openapi_spec_validator import validate as validate_openapi

from protocol import models
from tests.support.service import Service
from tests.web.conftest import TOKEN
from webapp import auth, create_app
from webapp.api import ENDPOINTS
from webapp.openapi import ERROR_RESPONSES, build_document

IGNORED_METHODS = {"HEAD", "OPTIONS"}


@pytest.fixture(scope="module", params=["open", "token"])
def app(request: pytest.FixtureRequest):
    config = {"REPL_SUPERVISOR_ENDPOINT": "ipc:///nonexistent/openapi-test.sock"}
    if request.param == "token":
        config["REPL_API_TOKEN"] = TOKEN
    return create_app(config)


def _routes(app) -> set[tuple[str, str]]:
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        routes |= {(method, path) for method in rule.methods - IGNORED_METHODS}
    return routes


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def test_every_route_of_the_app_is_described(app) -> None:
    document = build_document(app)
    described = {(method.upper(), path) for path, ops in document["paths"].items() for method in ops}
    assert _routes(app) == described


def test_the_document_is_valid_openapi(app) -> None:
    validate_openapi(build_document(app))


def test_requests_and_replies_come_from_the_protocol_models(app) -> None:
    document = build_document(app)
    for endpoint in ENDPOINTS:
        operation = document["paths"][endpoint.path][endpoint.method.lower()]
        request_model, reply_model = models.OPERATIONS[endpoint.op]
        expected = request_model.model_json_schema()
        if endpoint.method == "GET":
            assert "requestBody" not in operation
            parameters = {p["name"]: p for p in operation["parameters"]}
            assert set(parameters) == set(request_model.model_fields), endpoint.path
            assert all(p["in"] == "query" for p in parameters.values())
            assert {n for n, p in parameters.items() if p["required"]} == set(expected.get("required", []))
            for name, parameter in parameters.items():
                for key in ("pattern", "enum", "type", "default"):
                    assert parameter["schema"].get(key) == expected["properties"][name].get(key), (endpoint.path, name)
        else:
            body = operation["requestBody"]
            schema = _resolve(document, body["content"]["application/json"]["schema"])
            assert set(schema["properties"]) == set(request_model.model_fields), endpoint.path
            assert set(schema.get("required", [])) == set(expected.get("required", []))
            assert body["required"] == bool(expected.get("required"))
        reply = _resolve(document, operation["responses"]["200"]["content"]["application/json"]["schema"])
        assert set(reply["properties"]) == set(reply_model.model_fields), endpoint.path


def test_api_operations_document_their_error_statuses(app) -> None:
    document = build_document(app)
    for endpoint in ENDPOINTS:
        responses = document["paths"][endpoint.path][endpoint.method.lower()]["responses"]
        for status in ERROR_RESPONSES:
            schema = _resolve(document, responses[str(status)]["content"]["application/json"]["schema"])
            assert schema["required"] == ["detail"]
        detail = _resolve(document, responses["422"]["content"]["application/json"]["schema"])["properties"]["detail"]
        assert detail["type"] == "array"


def test_the_token_is_declared_where_it_is_needed(app) -> None:
    document = build_document(app)
    token = bool(app.config["REPL"].api_token)
    assert ("securitySchemes" in document["components"]) is token
    for path, operations in document["paths"].items():
        for operation in operations.values():
            protected = token and not auth.is_public(path)
            assert ("security" in operation) is protected, path
            assert ("401" in operation["responses"]) is protected, path


def test_the_service_serves_the_document(service: Service) -> None:
    response = service.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    document = response.json()
    assert document["openapi"].startswith("3.1")
    assert {e.path for e in ENDPOINTS} <= set(document["paths"])


def test_docs_page_is_served_locally(service: Service) -> None:
    response = service.get("/docs")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    page = response.text
    assert "openapi.json" in page
    # Nothing is loaded from another host: no external script, style, font or image.
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.I)
    assert not re.search(r"@import|url\(\s*['\"]?(https?:)?//", page, re.I)


def test_with_a_token_the_docs_page_is_public_and_the_document_is_not(guarded: Service) -> None:
    import requests

    assert requests.get(guarded.url + "/docs", timeout=10).status_code == 200
    assert requests.get(guarded.url + "/openapi.json", timeout=10).status_code == 401
    response = guarded.get("/openapi.json")
    assert response.status_code == 200
    assert "bearerAuth" in response.json()["components"]["securitySchemes"]


def test_the_case_statuses_and_scores_are_described(app) -> None:
    """Every status a case can have, the limit ones included, and the partial credit of a
    case and of a reply (docs/api.md §4), in /evaluate_code's reply and in each batch result."""
    document = build_document(app)
    schemas = document["components"]["schemas"]
    case = schemas["CaseResult"]["properties"]
    assert case["status"]["enum"] == ["passed", "failed", "error", "timeout", "memory", "output_limit", "crashed",
                                      "skipped"]
    assert (case["score"]["minimum"], case["score"]["maximum"]) == (0, 1)
    for reply in ("EvaluateReply", "BatchEvaluated"):
        properties = schemas[reply]["properties"]
        assert (properties["score"]["minimum"], properties["score"]["maximum"]) == (0, 1), reply
        assert properties["passed_count"]["type"] == "integer" and properties["passed_count"]["minimum"] == 0, reply
