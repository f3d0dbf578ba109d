"""`REPL_API_TOKEN`: with a token set, every endpoint but `/`, the health checks and the
static `/docs` page needs `Authorization: Bearer <token>` (a second service, `guarded`)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests

from tests.support.service import Service
from tests.web.conftest import TOKEN
from webapp.api import ENDPOINTS

PUBLIC = ["/", "/healthz", "/readyz", "/docs"]
PROTECTED = [(e.method, e.path) for e in ENDPOINTS] + [("GET", "/metrics"), ("GET", "/openapi.json")]


def _call(service: Service, method: str, path: str, headers: dict[str, str],
          body: dict[str, Any] | None = None) -> requests.Response:
    if method == "GET":
        return requests.get(service.url + path, params=body or {}, headers=headers, timeout=30)
    return requests.post(service.url + path, json=body if body is not None else {}, headers=headers, timeout=30)


@pytest.mark.parametrize("path", PUBLIC)
def test_public_endpoints_need_no_token(guarded: Service, path: str) -> None:
    assert requests.get(guarded.url + path, timeout=10).status_code == 200


@pytest.mark.parametrize("method,path", PROTECTED)
@pytest.mark.parametrize("header", [None, "Bearer wrong-token", f"Basic {TOKEN}", "Bearer", f"Bearer {TOKEN}x"])
def test_protected_endpoints_refuse_a_missing_or_wrong_token(guarded: Service, method: str, path: str,
                                                              header: str | None) -> None:
    response = _call(guarded, method, path, {"Authorization": header} if header else {})
    assert response.status_code == 401, response.text
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert isinstance(response.json()["detail"], str)


@pytest.mark.parametrize("method,path", PROTECTED)
def test_protected_endpoints_accept_the_token(guarded: Service, method: str, path: str) -> None:
    response = _call(guarded, method, path, {"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code != 401, response.text


def test_the_scheme_is_case_insensitive(guarded: Service) -> None:
    sid = f"auth-{uuid.uuid4().hex[:8]}"
    response = requests.post(guarded.url + "/write_file", json={"id": sid, "rel_path": "a.txt", "content": "x"},
                             headers={"Authorization": f"bearer {TOKEN}"}, timeout=10)
    assert response.status_code == 200, response.text


def test_an_unknown_path_needs_the_token_too(guarded: Service) -> None:
    assert requests.get(guarded.url + "/no-such-route", timeout=10).status_code == 401
    assert guarded.get("/no-such-route").status_code == 404


def test_a_refused_request_changes_nothing(guarded: Service) -> None:
    sid = f"auth-{uuid.uuid4().hex[:8]}"
    response = requests.post(guarded.url + "/write_file", json={"id": sid, "rel_path": "a.txt", "content": "x"},
                             timeout=10)
    assert response.status_code == 401
    assert not (guarded.session_root / sid).exists()
    assert guarded.get("/list_files", params={"id": sid}).status_code == 404


def test_without_a_token_configured_no_header_is_needed(service: Service) -> None:
    assert service.token is None
    assert requests.get(service.url + "/metrics", timeout=10).status_code == 200
    assert requests.post(service.url + "/create_session", json={}, timeout=10).status_code == 200
