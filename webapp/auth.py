"""The optional API token (`REPL_API_TOKEN`).

When the token is set, every request needs `Authorization: Bearer <token>` except those
to the public paths below. Public: `/` (the ping), the health checks `/healthz` and
`/readyz` (probes stay simple), and `/docs`, a static page that holds no data and asks
for the token itself before it fetches `/openapi.json`. Everything else needs the token,
`/metrics` and `/openapi.json` included (Prometheus scrapes with a bearer token; the spec
says every endpoint but `/` and the health checks), and so does a path that matches no
route, so an unauthenticated client learns nothing about what exists.

The check runs before the request body is read, so an unauthenticated upload is refused
without being received. Tokens are compared in constant time.
"""

from __future__ import annotations

import hmac

from flask import Flask, request

from protocol.errors import ErrorCode, ServiceError

PUBLIC_PATHS = frozenset({"/", "/healthz", "/readyz", "/docs"})
SCHEME = "bearer"


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS


def _presented_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != SCHEME or not token.strip():
        return None
    return token.strip()


def register(app: Flask) -> None:
    """Refuse requests without the token with 401 (no-op when no token is configured)."""
    expected = app.config["REPL"].api_token
    if not expected:
        return
    expected_bytes = expected.encode()

    @app.before_request
    def _check_token() -> None:
        if is_public(request.path):
            return
        token = _presented_token()
        if token is None:
            raise ServiceError(ErrorCode.UNAUTHORIZED, "missing API token: send `Authorization: Bearer <token>`")
        if not hmac.compare_digest(token.encode(), expected_bytes):
            raise ServiceError(ErrorCode.UNAUTHORIZED, "invalid API token")
