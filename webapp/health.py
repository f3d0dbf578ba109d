"""Health checks: `/healthz` (this web process is alive) and `/readyz` (a supervisor
answers and has idle sandboxes). Neither needs the API token, so probes stay simple.

With several supervisors the web tier is ready when any of them is: one that is down
fails only its own sessions, so taking the whole tier out of service for it would fail
everyone. The body then sums the pools and lists each supervisor under `supervisors`.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app

from webapp import requestlog
from webapp.jsonio import json_response
from webapp.router import SupervisorStatus

bp = Blueprint("health", __name__)
STATUS_TIMEOUT = 1.0


@bp.get("/healthz")
def healthz() -> Response:
    return json_response({"status": "ok"})


@bp.get("/readyz")
def readyz() -> Response:
    answers = current_app.extensions["supervisor"].inner.statuses(STATUS_TIMEOUT, request_id=requestlog.current_id())
    body = _one(answers[0]) if len(answers) == 1 else _many(answers)
    response = json_response(body, 200 if body.get("ready") else 503)
    if not body.get("ready"):
        response.headers["Retry-After"] = "1"
    if body.get("isolation") == "insecure":
        response.headers["X-Repl-Insecure"] = "1"
    return response


def _one(answer: SupervisorStatus) -> dict[str, Any]:
    if answer.status is None:
        return {"ready": False, "detail": answer.detail}
    return answer.status


def _many(answers: list[SupervisorStatus]) -> dict[str, Any]:
    up = [a.status for a in answers if a.status is not None]
    isolations = {str(s.get("isolation")) for s in up}
    return {
        "ready": any(s.get("ready") for s in up),
        "isolation": "insecure" if "insecure" in isolations else (min(isolations) if isolations else ""),
        **{key: sum(int(s.get(key, 0)) for s in up) for key in ("idle", "busy", "queued")},
        "supervisors": [{"endpoint": a.endpoint, "up": a.status is not None, **_one(a)} for a in answers],
    }
