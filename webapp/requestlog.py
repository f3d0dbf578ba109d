"""One log line per request: method, path, status, duration, session id."""

from __future__ import annotations

import logging
import time

from flask import Flask, Response, g, request

log = logging.getLogger("webapp.access")


def register(app: Flask) -> None:
    @app.before_request
    def _start() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def _log(response: Response) -> Response:
        started = g.get("started")
        duration_ms = (time.perf_counter() - started) * 1000 if started else 0.0
        session = request.environ.get("repl.session") or "-"
        log.info("%s %s %d %.1fms session=%s", request.method, request.path, response.status_code,
                 duration_ms, session)
        return response
