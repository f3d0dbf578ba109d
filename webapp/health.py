"""Health checks: `/healthz` (this web process is alive) and `/readyz` (the supervisor
answers and has idle sandboxes). Neither needs the API token, so probes stay simple."""

from __future__ import annotations

from flask import Blueprint, Response, current_app

from protocol.errors import ServiceError
from webapp import requestlog
from webapp.jsonio import json_response

bp = Blueprint("health", __name__)
STATUS_TIMEOUT = 1.0


@bp.get("/healthz")
def healthz() -> Response:
    return json_response({"status": "ok"})


@bp.get("/readyz")
def readyz() -> Response:
    try:
        status = current_app.extensions["supervisor"].call("status", {}, STATUS_TIMEOUT,
                                                           request_id=requestlog.current_id())
    except ServiceError as exc:
        response = json_response({"ready": False, "detail": exc.detail}, 503)
        response.headers["Retry-After"] = "1"
        return response
    response = json_response(status, 200 if status.get("ready") else 503)
    if status.get("isolation") == "insecure":
        response.headers["X-Repl-Insecure"] = "1"
    return response
