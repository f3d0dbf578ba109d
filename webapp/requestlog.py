"""One log line per request: method, path, status, duration, session id.

    2026-01-01 12:00:00,000 web INFO POST /run 200 12.3ms session=abc

The session id is the validated `id` of the request (`-` when there is none or it failed
validation). The path comes from the client, so characters that could forge a second log
line or hide text (controls, non-ASCII) are escaped.
"""

from __future__ import annotations

import logging
import time

from flask import Flask, Response, g, request

log = logging.getLogger("webapp.access")


def _printable(text: str) -> str:
    if text.isascii() and text.isprintable():
        return text
    return text.encode("unicode_escape").decode("ascii")


def register(app: Flask) -> None:
    @app.before_request
    def _start() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def _log(response: Response) -> Response:
        started = g.get("started")
        duration_ms = (time.perf_counter() - started) * 1000 if started else 0.0
        session = request.environ.get("repl.session") or "-"
        log.info("%s %s %d %.1fms session=%s", _printable(request.method), _printable(request.path),
                 response.status_code, duration_ms, session)
        return response
