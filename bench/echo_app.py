"""A bare Flask app: the web tier with nothing behind it.

Served by gunicorn with the service's own settings, it measures what HTTP parsing, the
WSGI stack and JSON decoding/encoding cost on their own, so the service's overhead on top
(validation, the RPC to the supervisor, the file operation) can be read off by difference.
"""

from __future__ import annotations

from flask import Flask, Response, jsonify, request

app = Flask(__name__)


@app.post("/echo")
def echo() -> Response:
    """Returns the JSON body it was sent, decoded and re-encoded like a real reply."""
    return jsonify(request.get_json(force=True))


@app.get("/ping")
def ping() -> Response:
    """Answers the readiness probe of the harness."""
    return jsonify("ping")
