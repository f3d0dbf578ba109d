"""`GET /openapi.json` and the browsable `GET /docs`.

The document is generated from the same pydantic models that validate the requests:
`webapp.api.ENDPOINTS` names each route's operation, and `protocol.models.OPERATIONS`
gives its request and reply models. POST routes take the request model as a JSON body,
GET routes take its fields as query parameters. Every API route answers 200 with its reply
model, and 400/404/413/422/503/504 with `{"detail": ...}` (422 with the validation errors as
a list, in FastAPI's shape). When `REPL_API_TOKEN` is set, the routes that need it
(`webapp.auth`) declare bearer security and a 401.

The routes that are not API operations (`/`, the health checks, `/metrics`, this
document and `/docs`) are described by `EXTRA_ROUTES`; a test checks that every route of
the Flask app is in the document. `/docs` is one self-contained HTML page (no CDN) that
renders this document and can send requests.
"""

from __future__ import annotations

import copy
from importlib import resources
from typing import Any

from flask import Blueprint, Flask, Response, current_app
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from protocol import limits, models
from webapp import auth
from webapp.api import ENDPOINTS, Endpoint
from webapp.jsonio import json_response

bp = Blueprint("openapi", __name__)

OPENAPI_VERSION = "3.1.0"
API_VERSION = "1.0.0"
TITLE = "Sandboxed Python REPL API"
DESCRIPTION = (
    "Runs untrusted Python code and shell commands in one-shot sandboxes, with per-session "
    "files. Errors are JSON `{\"detail\": ...}`; a request that fails validation answers 422 "
    "with the validation errors under `detail`."
)
REF = "#/components/schemas/{model}"

# One example per operation, a request that succeeds on a fresh service once the session
# `demo` has a file `hello.py` (a test sends each one).
EXAMPLES: dict[str, dict[str, Any]] = {
    "evaluate": {"id": "demo", "code": "def add(a, b):\n    return a + b", "entry_point": "add",
                 "io_cases": [{"input": "1, 2", "output": "3"}, {"input": "a=0.1, b=0.2", "output": "0.3"}],
                 "float_tolerance": 1e-9},
    "run": {"id": "demo", "cmd": "python3 hello.py", "timeout": 10},
    "read_file": {"id": "demo", "rel_path": "hello.py"},
    "write_file": {"id": "demo", "rel_path": "hello.py", "content": "print('hello')\n"},
    "delete_file": {"id": "demo", "rel_path": "hello.py"},
    "rename_file": {"id": "demo", "old_path": "hello.py", "new_path": "src/hello.py"},
    "fork_session": {"id": "demo"},
    "create_session": {"id": "demo-2"},
    "delete_session": {"id": "demo"},
    "list_files": {"id": "demo"},
    "evaluate_batch": {"submissions": [
        {"id": "demo", "code": "def add(a, b):\n    return a + b", "entry_point": "add",
         "io_cases": [{"input": "1, 2", "output": "3"}]},
        {"id": "demo", "code": "def add(a, b):\n    return a - b", "entry_point": "add",
         "io_cases": [{"input": "1, 2", "output": "3"}]}]},
}

# The error statuses every API operation may answer, and why.
ERROR_RESPONSES: dict[int, str] = {
    400: "The request cannot be done (no such session for /run, a path escaping the session, ...).",
    404: "The session or file does not exist.",
    413: "The request body, the file or the session's disk quota is too large.",
    422: "The request failed validation; `detail` lists the errors.",
    503: "Not executed (supervisor down, queue full, no sandbox free in time, draining); "
         "retry after `Retry-After` seconds.",
    504: "Outcome unknown: the operation was sent and may have run (its sandbox died, or the "
         "answer was lost); repeat only what is idempotent.",
}

ERROR_SCHEMAS: dict[str, dict[str, Any]] = {
    "HTTPError": {
        "title": "HTTPError",
        "type": "object",
        "properties": {"detail": {"title": "Detail", "type": "string"}},
        "required": ["detail"],
    },
    "ValidationErrorItem": {
        "title": "ValidationErrorItem",
        "type": "object",
        "properties": {
            "loc": {"title": "Location", "type": "array",
                    "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
            "msg": {"title": "Message", "type": "string"},
            "type": {"title": "Error Type", "type": "string"},
        },
        "required": ["loc", "msg", "type"],
    },
    "HTTPValidationError": {
        "title": "HTTPValidationError",
        "type": "object",
        "properties": {"detail": {"title": "Detail", "type": "array",
                                  "items": {"$ref": REF.format(model="ValidationErrorItem")}}},
        "required": ["detail"],
    },
    "NotReady": {
        "title": "NotReady",
        "description": "The supervisor does not answer, or answers but has no idle sandbox.",
        "type": "object",
        "properties": {"ready": {"type": "boolean", "const": False}, "detail": {"type": "string"}},
        "required": ["ready"],
    },
    "Health": {
        "title": "Health",
        "type": "object",
        "properties": {"status": {"type": "string", "const": "ok"}},
        "required": ["status"],
    },
}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": REF.format(model=name)}


# The routes that are not API operations: (method, path) -> operation object.
EXTRA_ROUTES: dict[tuple[str, str], dict[str, Any]] = {
    ("GET", "/"): {
        "operationId": "ping", "summary": "Ping (answered by the web tier alone)", "tags": ["service"],
        "responses": {"200": {"description": "Always the JSON string \"ping\".",
                              "content": _json({"type": "string", "const": "ping"})}},
    },
    ("GET", "/healthz"): {
        "operationId": "healthz", "summary": "The web process is alive", "tags": ["service"],
        "responses": {"200": {"description": "Alive.", "content": _json(_ref("Health"))}},
    },
    ("GET", "/readyz"): {
        "operationId": "readyz", "summary": "The supervisor answers and has idle sandboxes", "tags": ["service"],
        "responses": {
            "200": {"description": "Ready: the supervisor's status.", "content": _json(_ref("StatusReply"))},
            "503": {"description": "Not ready.", "content": _json(
                {"anyOf": [_ref("StatusReply"), _ref("NotReady")]})},
        },
    },
    ("GET", "/metrics"): {
        "operationId": "metrics", "summary": "Prometheus metrics (web tier and supervisor)", "tags": ["service"],
        "responses": {"200": {"description": "The Prometheus text exposition format.",
                              "content": {"text/plain": {"schema": {"type": "string"}}}}},
    },
    ("GET", "/openapi.json"): {
        "operationId": "openapi", "summary": "This document", "tags": ["service"],
        "responses": {"200": {"description": "The OpenAPI document.", "content": _json({"type": "object"})}},
    },
    ("GET", "/limits"): {
        "operationId": "limits", "summary": "Every default and maximum a request is held to", "tags": ["service"],
        "responses": {"200": {"description": "By operation: each bounded request field's `default` and "
                                             "`maximum`, and the fixed limits' `value`, with its `unit`.",
                              "content": _json({"type": "object", "additionalProperties": {
                                  "type": "object", "additionalProperties": {"type": "object"}}})}},
    },
    ("GET", "/docs"): {
        "operationId": "docs", "summary": "Browsable documentation of this API", "tags": ["service"],
        "responses": {"200": {"description": "An HTML page.",
                              "content": {"text/html": {"schema": {"type": "string"}}}}},
    },
}


def _strip(schema: dict[str, Any]) -> dict[str, Any]:
    """A property's schema as a parameter schema (the description moves to the parameter)."""
    return {k: v for k, v in schema.items() if k not in ("title", "description")}


def _query_parameters(schema: dict[str, Any]) -> list[dict[str, Any]]:
    required = set(schema.get("required", []))
    parameters = []
    for name, prop in schema.get("properties", {}).items():
        parameter: dict[str, Any] = {"name": name, "in": "query", "required": name in required,
                                     "schema": _strip(prop)}
        if "description" in prop:
            parameter["description"] = prop["description"]
        parameters.append(parameter)
    return parameters


def _api_operation(endpoint: Endpoint, request_ref: dict[str, Any], reply_ref: dict[str, Any],
                   schemas: dict[str, dict[str, Any]]) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": endpoint.op,
        "summary": endpoint.summary,
        "tags": ["api"],
    }
    doc = (endpoint.request_model.__doc__ or "").strip()
    if doc:
        operation["description"] = doc
    request_schema = schemas[request_ref["$ref"].rsplit("/", 1)[-1]]
    example = EXAMPLES[endpoint.op]
    if endpoint.method == "GET":
        operation["parameters"] = _query_parameters(request_schema)
        for parameter in operation["parameters"]:
            if parameter["name"] in example:
                parameter["example"] = example[parameter["name"]]
    else:
        content = _json(request_ref)
        content["application/json"]["example"] = example
        operation["requestBody"] = {"required": bool(request_schema.get("required")), "content": content}
    responses: dict[str, Any] = {"200": {"description": "Success.", "content": _json(reply_ref)}}
    for status, why in ERROR_RESPONSES.items():
        schema = _ref("HTTPValidationError" if status == 422 else "HTTPError")
        responses[str(status)] = {"description": why, "content": _json(schema)}
    operation["responses"] = responses
    return operation


def _add_maxima(schemas: dict[str, dict[str, Any]], config: Any) -> None:
    """Write the configured maxima (`protocol.limits`) into the request schemas."""
    for limit in limits.BOUNDS:
        model = limit.model or models.OPERATIONS[limit.op][0].__name__
        prop = schemas[model]["properties"][limit.field]
        maximum = getattr(config, limit.maximum)
        for branch in prop.get("anyOf", [prop]):  # an optional field: the non-null branch
            if branch.get("type") == "array" and limit.count:
                branch["maxItems"] = maximum
            elif branch.get("type") == "string" and limit.count:
                branch["maxLength"] = maximum
            elif branch.get("type") in ("number", "integer") and not limit.count:
                branch["maximum"] = maximum
        if limit.default is not None:
            prop["default"] = getattr(config, limit.default)


def build_document(app: Flask) -> dict[str, Any]:
    """The OpenAPI document of `app`'s routes (depends on its configuration only)."""
    wanted: list[tuple[type[BaseModel], JsonSchemaMode]] = []
    for endpoint in ENDPOINTS:
        wanted += [(endpoint.request_model, "validation"), (endpoint.reply_model, "serialization")]
    wanted.append((models.StatusReply, "serialization"))
    refs, defs = models_json_schema(list(dict.fromkeys(wanted)), ref_template=REF)
    schemas: dict[str, dict[str, Any]] = {**defs.get("$defs", {}), **copy.deepcopy(ERROR_SCHEMAS)}
    _add_maxima(schemas, app.config["REPL"])

    paths: dict[str, dict[str, Any]] = {}
    for endpoint in ENDPOINTS:
        operation = _api_operation(endpoint, refs[(endpoint.request_model, "validation")],
                                   refs[(endpoint.reply_model, "serialization")], schemas)
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = operation
    for (method, path), operation in EXTRA_ROUTES.items():
        paths.setdefault(path, {})[method.lower()] = copy.deepcopy(operation)

    document: dict[str, Any] = {
        "openapi": OPENAPI_VERSION,
        "info": {"title": TITLE, "version": API_VERSION, "description": DESCRIPTION},
        "paths": paths,
        "components": {"schemas": dict(sorted(schemas.items()))},
    }
    if app.config["REPL"].api_token:
        document["components"]["securitySchemes"] = {
            "bearerAuth": {"type": "http", "scheme": "bearer",
                           "description": "The value of `REPL_API_TOKEN`."}}
        for path, operations in paths.items():
            if auth.is_public(path):
                continue
            for operation in operations.values():
                operation["security"] = [{"bearerAuth": []}]
                operation["responses"]["401"] = {"description": "Missing or wrong API token.",
                                                 "content": _json(_ref("HTTPError"))}
    return document


def document(app: Flask) -> dict[str, Any]:
    """The app's document, built once."""
    cached = app.extensions.get("openapi")
    if cached is None:
        cached = app.extensions["openapi"] = build_document(app)
    return cached


@bp.get("/openapi.json")
def openapi_json() -> Response:
    return json_response(document(current_app._get_current_object()))  # type: ignore[attr-defined]


_DOCS_PAGE: bytes | None = None


@bp.get("/docs")
def docs() -> Response:
    global _DOCS_PAGE
    if _DOCS_PAGE is None:
        _DOCS_PAGE = resources.files("webapp").joinpath("assets/docs.html").read_bytes()
    response = Response(_DOCS_PAGE, status=200, mimetype="text/html")
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'")
    return response
