"""Fuzz every operation of the OpenAPI document against the real service (schemathesis).

Requests are generated from `/openapi.json` itself, valid and invalid ones. Each response
must not be a 500, must have a status code the document lists for the operation, the
documented content type, and a body matching the documented schema. A bounded number of
examples per operation keeps the run short; the deadline is off because a request that
starts a sandbox is slower than Hypothesis's default.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.service import Service

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def api_schema(service: Service) -> schemathesis.schemas.BaseSchema:
    return schemathesis.openapi.from_url(service.url + "/openapi.json", timeout=30)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck), database=None)
def test_api_conforms_to_its_document(case: schemathesis.Case, service: Service) -> None:
    case.call_and_validate(base_url=service.url, checks=CHECKS, timeout=90)


def test_the_checks_catch_a_server_error() -> None:
    """The fuzz test can fail: the same checks reject a 500 and an undocumented status."""
    from flask import Flask, jsonify
    from schemathesis.core.failures import FailureGroup

    app = Flask(__name__)
    document = {
        "openapi": "3.1.0", "info": {"title": "t", "version": "1"},
        "paths": {"/boom": {"get": {"responses": {"200": {"description": "ok", "content": {
            "application/json": {"schema": {"type": "object"}}}}}}}},
    }

    @app.get("/openapi.json")
    def _document():
        return jsonify(document)

    @app.get("/boom")
    def _boom():
        return jsonify(detail="internal error"), 500

    operation = schemathesis.openapi.from_wsgi("/openapi.json", app)["/boom"]["GET"]
    with pytest.raises(FailureGroup) as failures:
        operation.Case().call_and_validate(checks=CHECKS)
    assert {type(e).__name__ for e in failures.value.exceptions} >= {"ServerError", "UndefinedStatusCode"}
