"""The web tier: a thin Flask app that validates requests and forwards them to the supervisor.

It never touches session files and never runs user code. `create_app` is the factory
gunicorn calls (`webapp:create_app()`); tests pass `test_config` to override settings.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask

from protocol import logformat, routing, settings
from webapp import api, auth, bodylimit, errors, health, limits, metrics, openapi, requestlog
from webapp.router import Router
from webapp.rpc import CurveKeys, SupervisorClient


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    environ = {**os.environ, **(test_config or {})}  # test_config: variables to override
    config = settings.load(environ)
    logformat.configure(config.log_format, config.log_level, tag="web")
    app = Flask(__name__)
    app.config["REPL"] = config
    app.config["MAX_CONTENT_LENGTH"] = config.max_body_bytes
    # Wrapped so that every operation is timed and its outcome counted for /metrics.
    endpoints = routing.endpoints(config)
    keys = CurveKeys.load(config, endpoints)
    router = Router([SupervisorClient(endpoint, keys) for endpoint in endpoints], on_route=metrics.count_route)
    app.extensions["supervisor"] = metrics.ObservedClient(router)
    errors.register(app)
    # Order matters: before_request hooks run in this order and stop at the first refusal,
    # so the log and the metrics see every request, the 401s included, and no body is
    # read before the token is checked.
    requestlog.register(app)
    metrics.register(app)
    auth.register(app)
    bodylimit.register(app)
    app.register_blueprint(api.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(limits.bp)
    return app
