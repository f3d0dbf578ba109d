"""The maximum request body (`REPL_MAX_BODY_BYTES`), for chunked bodies too.

Flask refuses a body whose `Content-Length` passes `MAX_CONTENT_LENGTH` with 413 before
reading it. A chunked body has no length: Werkzeug then reads at most the maximum and
stops there without an error, so an oversized chunked body would arrive silently cut
(and fail as invalid JSON, or worse, parse). This hook reads such a body up to the
maximum, looks for one byte more on the server's own stream, and refuses the request
with the same 413 if there is one. The body read is kept for the view
(`request.get_data()` returns it).

It runs after the token check, so an unauthenticated body is never read.

After a 413 the rest of the refused body is still on the connection. Gunicorn drains at
most 64 KiB of it and otherwise closes the connection once the response is sent, which
a client reusing that keep-alive connection sees as a reset on its next request. So the
web tier reads and discards the rest itself when it is no larger than the maximum once
more (the cost of one accepted request); a larger remainder is left to gunicorn to cut.
"""

from __future__ import annotations

from flask import Flask, Response, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

DRAIN_CHUNK = 64 * 1024


def _chunked() -> bool:
    return "chunked" in request.headers.get("Transfer-Encoding", "").lower()


def register(app: Flask) -> None:
    @app.before_request
    def _enforce_maximum_on_chunked_bodies() -> None:
        limit = current_app.config.get("MAX_CONTENT_LENGTH")
        if limit is None or request.content_length is not None or not _chunked():
            return
        if "wsgi.input_terminated" not in request.environ:
            return  # Werkzeug gives the view an empty body: nothing unbounded is read
        data = request.get_data(cache=True)  # at most `limit` bytes
        if len(data) >= limit and request.environ["wsgi.input"].read(1):
            raise RequestEntityTooLarge()

    @app.after_request
    def _drain_a_refused_body(response: Response) -> Response:
        limit = current_app.config.get("MAX_CONTENT_LENGTH")
        if response.status_code == 413 and limit is not None:
            _drain(limit)
        return response


def _drain(limit: int) -> None:
    """Discard the unread rest of a body of at most twice `limit` bytes."""
    length = request.content_length
    if length is not None:
        if length > 2 * limit:
            return  # too much to read for nothing: gunicorn closes the connection instead
        budget = length
    elif _chunked() and "wsgi.input_terminated" in request.environ:
        budget = limit  # `limit` + 1 bytes were read already
    else:
        return
    stream = request.environ["wsgi.input"]
    try:
        while budget > 0:
            data = stream.read(min(DRAIN_CHUNK, budget))
            if not data:
                return
            budget -= len(data)
    except Exception:  # the client went away or sent a malformed chunk: gunicorn closes
        return
