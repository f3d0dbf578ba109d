"""The backbone of the suite: the real supervisor and web processes, started from the
Procfile on a free port with a temporary session root, shared by the tests of a run."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.support.service import Service, start_service


@pytest.fixture(scope="session")
def service() -> Iterator[Service]:
    svc = start_service()
    yield svc
    svc.stop()


@pytest.fixture
def session_id(service: Service) -> str:
    """A fresh session with one file in it."""
    sid = f"t-{uuid.uuid4().hex[:12]}"
    service.write(sid, "hello.txt", "hello\n")
    return sid
