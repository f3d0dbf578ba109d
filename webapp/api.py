"""The HTTP endpoints: validate with the protocol's models, make one RPC, shape the reply.

The routes are a table (`ENDPOINTS`), so the OpenAPI document, the auth rule and the
tests can all be driven from the same list.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pydantic
from flask import Blueprint, Response, current_app, request

from protocol import models
from protocol.budget import rpc_timeout
from protocol.errors import ErrorCode, ServiceError
from webapp import errors, requestlog
from webapp.jsonio import json_response, parse_body

bp = Blueprint("api", __name__)


def batch_results(reply: dict[str, Any]) -> dict[str, Any]:
    """Each submission's answer as `/evaluate_code` would have given it, with its status:
    `{"status": 200, <the evaluate reply>}` or `{"status": 503, "detail": ...}` (docs/api.md §12)."""
    results = []
    for item in reply.get("results", []):
        if item.get("ok"):
            results.append({**item.get("body", {}), "status": 200})
        else:
            status, detail = errors.status_and_detail(ServiceError.from_dict(item.get("error") or {}))
            results.append({"status": status, "detail": detail})
    return {"results": results}


def _as_is(reply: dict[str, Any]) -> dict[str, Any]:
    return reply


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    op: str
    summary: str
    shape: Callable[[dict[str, Any]], dict[str, Any]] = _as_is  # the supervisor's reply -> the HTTP body

    @property
    def request_model(self) -> type[pydantic.BaseModel]:
        return models.OPERATIONS[self.op][0]

    @property
    def reply_model(self) -> type[pydantic.BaseModel]:
        return models.OPERATIONS[self.op][1]


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("POST", "/evaluate_code", "evaluate", "Run code against input/output cases"),
    Endpoint("POST", "/run", "run", "Run a shell command in the session's sandbox"),
    Endpoint("GET", "/read_file", "read_file", "Read a file of the session"),
    Endpoint("POST", "/write_file", "write_file", "Write a file (creates the session)"),
    Endpoint("POST", "/delete_file", "delete_file", "Delete a file or directory"),
    Endpoint("POST", "/rename_file", "rename_file", "Rename or move a file"),
    Endpoint("POST", "/fork_session", "fork_session", "Copy a session to a new id"),
    Endpoint("POST", "/create_session", "create_session", "Create a session"),
    Endpoint("POST", "/delete_session", "delete_session", "Delete a session and its files"),
    Endpoint("GET", "/list_files", "list_files", "List every entry of a session"),
    Endpoint("POST", "/evaluate_batch", "evaluate_batch", "Evaluate many submissions at once, answered in order",
             batch_results),
)


def _input(endpoint: Endpoint) -> tuple[dict[str, Any], str]:
    if endpoint.method == "GET":
        return request.args.to_dict(), "query"
    raw = request.get_data(cache=False)
    if not raw.strip():
        return {}, "body"
    body = parse_body(raw)
    if not isinstance(body, dict):
        raise ServiceError(ErrorCode.INVALID, [{"type": "model_type", "loc": ["body"],
                                                "msg": "request body must be a JSON object"}])
    return body, "body"


def validate(endpoint: Endpoint) -> pydantic.BaseModel:
    """Check the request against the endpoint's model; errors are 422 in FastAPI's shape."""
    data, where = _input(endpoint)
    try:
        return endpoint.request_model.model_validate(data, context={"config": current_app.config["REPL"]})
    except pydantic.ValidationError as exc:
        errors = [_plain_error(error, where) for error in exc.errors(include_url=False)]
        raise ServiceError(ErrorCode.INVALID, errors) from None


def _plain_error(error: Any, where: str) -> dict[str, Any]:
    """One pydantic error as plain data, its `loc` prefixed with `body` or `query`.

    Not through `ValidationError.json()`: that fails outright on an input it cannot encode
    (a lone surrogate). The `ctx` values may be exceptions (`ValueError` of a validator),
    shown as their message; the echoed input is made strict JSON by `jsonio.dumps`.
    """
    plain = dict(error)
    plain["loc"] = [where, *error.get("loc", ())]
    if "ctx" in plain:
        plain["ctx"] = {k: v if isinstance(v, (str, int, float, bool, type(None))) else str(v)
                        for k, v in plain["ctx"].items()}
    return plain


def _handler(endpoint: Endpoint) -> Callable[[], Response]:
    def handle() -> Response:
        model = validate(endpoint)
        request.environ["repl.session"] = getattr(model, "id", None)
        body = model.model_dump(exclude_none=True)
        timeout = rpc_timeout(endpoint.op, model, current_app.config["REPL"])
        reply = current_app.extensions["supervisor"].call(endpoint.op, body, timeout,
                                                          request_id=requestlog.current_id())
        return json_response(endpoint.shape(reply))
    handle.__name__ = f"api_{endpoint.op}"
    return handle


for _endpoint in ENDPOINTS:
    bp.add_url_rule(_endpoint.path, view_func=_handler(_endpoint), methods=[_endpoint.method])


@bp.get("/")
def ping() -> Response:
    """Answered by the web tier alone, whatever the supervisor's state."""
    return json_response("ping")
