"""Fixtures of the web-tier tests: a second service guarded by an API token and a small
maximum body size (the shared `service` runs with neither)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.service import Service, start_service

TOKEN = "web-test-token-7c1d"
MAX_BODY = 64 * 1024


@pytest.fixture(scope="session")
def guarded() -> Iterator[Service]:
    svc = start_service({"REPL_API_TOKEN": TOKEN, "REPL_MAX_BODY_BYTES": str(MAX_BODY)})
    yield svc
    svc.stop()
