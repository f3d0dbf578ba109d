"""`GET /limits`: every default and maximum a request is held to, as this web tier
validates them (`protocol.limits`), so a client can size its requests before sending.
Answered by the web tier alone; it needs the API token like the API itself."""

from __future__ import annotations

from flask import Blueprint, Response, current_app

from protocol import limits
from webapp.jsonio import json_response

bp = Blueprint("limits", __name__)


@bp.get("/limits")
def get_limits() -> Response:
    return json_response(limits.describe(current_app.config["REPL"]))
