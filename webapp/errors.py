"""The one place where errors become HTTP responses.

Every failure leaves as JSON `{"detail": ...}`: the supervisor's error codes through
`STATUS`, Werkzeug's HTTP errors with their description, and anything unexpected as a
bare 500 whose traceback goes to the log, never to the client.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response
from werkzeug.exceptions import HTTPException

from protocol.errors import ErrorCode, ServiceError
from webapp.jsonio import json_response

log = logging.getLogger("webapp")

STATUS: dict[ErrorCode, int] = {
    ErrorCode.BAD_REQUEST: 400,
    ErrorCode.UNAUTHORIZED: 401,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.TOO_LARGE: 413,
    ErrorCode.INVALID: 422,
    ErrorCode.UNSUPPORTED_VERSION: 503,
    ErrorCode.UNAVAILABLE: 503,          # not executed: retry after Retry-After
    ErrorCode.OUTCOME_UNKNOWN: 504,      # may have run: retry only what is idempotent
    ErrorCode.INTERNAL: 500,
}
assert set(STATUS) == set(ErrorCode), "every error code needs an HTTP status"
RETRY_AFTER_SECONDS = "1"


def error_response(status: int, detail: object) -> Response:
    """`{"detail": ...}` with `status`, strict JSON whatever the detail echoes; a 503 (and
    only a 503: "not executed, come back") carries Retry-After."""
    response = json_response({"detail": detail}, status)
    if status == 503:
        response.headers["Retry-After"] = RETRY_AFTER_SECONDS
    if status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    return response


def status_and_detail(exc: ServiceError) -> tuple[int, Any]:
    """The HTTP status of a supervisor error and the detail a client may see (an INTERNAL
    error's detail stays in the logs). Also used for each failed submission of a batch."""
    if exc.code is ErrorCode.INTERNAL:
        return 500, "internal error"
    return STATUS[exc.code], exc.detail


def register(app: Flask) -> None:
    @app.errorhandler(ServiceError)
    def _service_error(exc: ServiceError) -> Response:
        return error_response(*status_and_detail(exc))

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        detail = exc.description
        if exc.code == 413:
            detail = f"request body is larger than the configured maximum of {app.config['MAX_CONTENT_LENGTH']} bytes"
        response = error_response(exc.code or 500, detail)
        if "Allow" in dict(exc.get_headers()):
            response.headers["Allow"] = dict(exc.get_headers())["Allow"]  # 405 names what is allowed
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error")
        return error_response(500, "internal error")
