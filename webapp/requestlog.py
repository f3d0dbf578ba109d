"""One log line per request, and the request's id.

    2026-12-02T17:30:00.123Z web INFO POST /run 200 12.3ms session=abc request_id=0f3c...

Every request gets an id before anything else looks at it (`protocol.requestids`): the
client's `X-Request-ID` when it is a well-formed one, else a new one. It is answered in
the `X-Request-ID` response header, sent to the supervisor with the operation (which logs
it on its job line), and ends this line.

The session id is the validated `id` of the request (`-` when there is none or it failed
validation). The path comes from the client, so characters that could forge a second log
line or hide text (controls, non-ASCII) are escaped. In the JSON format the same facts
are also fields of their own: method, path, status, duration_ms, session, request_id.
"""

from __future__ import annotations

import logging
import time

from flask import Flask, Response, g, request

from protocol import requestids

log = logging.getLogger("webapp.access")


def _printable(text: str) -> str:
    if text.isascii() and text.isprintable():
        return text
    return text.encode("unicode_escape").decode("ascii")


def current_id() -> str:
    """The id of the request being served ("" outside one, or before its hook ran)."""
    return g.get("request_id", "")


def register(app: Flask) -> None:
    @app.before_request
    def _start() -> None:
        g.started = time.perf_counter()
        g.request_id = requestids.accept(request.headers.get(requestids.HEADER)) or requestids.new()

    @app.after_request
    def _log(response: Response) -> Response:
        started = g.get("started")
        duration_ms = (time.perf_counter() - started) * 1000 if started else 0.0
        session = request.environ.get("repl.session") or "-"
        request_id = g.get("request_id") or requestids.new()  # a request no hook saw still gets one
        response.headers[requestids.HEADER] = request_id
        method, path = _printable(request.method), _printable(request.path)
        log.info("%s %s %d %.1fms session=%s request_id=%s", method, path, response.status_code, duration_ms,
                 session, request_id, extra={
                     "method": method, "path": path, "status": response.status_code,
                     "duration_ms": round(duration_ms, 1), "session": session, "request_id": request_id})
        return response
