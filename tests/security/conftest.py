"""Fixtures of the attack tests.

`service` (tests/conftest.py) is the real service with default settings. `tight` is a
second real service with small limits, for the exhaustion attacks: small enough that an
attack that got through its limits would still not hurt the machine running the tests.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from tests.security.support import new_session
from tests.support.service import Service, start_service

TIGHT = {
    "REPL_MAX_PROCESSES": 32,
    "REPL_RUN_MEMORY_MB": 256,
    "REPL_EVAL_MEMORY_MB": 256,
    "REPL_MAX_EVAL_MEMORY_MB": 512,
    "REPL_TMP_SIZE_MB": 64,
    "REPL_DISK_QUOTA_MB": 64,
    "REPL_MAX_CONCURRENT_JOBS": 8,
}


@pytest.fixture(scope="session")
def tight() -> Iterator[Service]:
    svc = start_service({k: str(v) for k, v in TIGHT.items()})
    yield svc
    svc.stop()
    shutil.rmtree(svc.workdir, ignore_errors=True)


@pytest.fixture
def session(service: Service) -> str:
    """A fresh session of the default service."""
    return new_session(service)


@pytest.fixture
def tight_session(tight: Service) -> str:
    """A fresh session of the tight service."""
    return new_session(tight, "tight")
