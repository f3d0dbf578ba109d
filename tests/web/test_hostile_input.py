"""Hostile but well-formed-looking input through the real HTTP API: never a 500, always a
4xx naming the problem, and every error body strict JSON.

Bodies are sent as raw bytes, because `requests` would refuse to encode some of them
(a lone surrogate escape is valid JSON text but no UTF-8 string).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from tests.support.service import Service

HEADERS = {"Content-Type": "application/json"}


def _strict_json(text: str) -> Any:
    """Parse `text` as RFC 8259 JSON: no NaN, Infinity or -Infinity tokens."""
    def refuse(token: str) -> None:
        raise ValueError(f"not JSON: {token}")
    return json.loads(text, parse_constant=refuse)


def _post_raw(service: Service, path: str, raw: str) -> requests.Response:
    """POST `raw` as the body, byte for byte (ASCII: escapes stay escapes)."""
    return requests.post(service.url + path, data=raw.encode("ascii"), headers=HEADERS, timeout=60)


def _locs(response: requests.Response) -> list[list[Any]]:
    detail = _strict_json(response.text)["detail"]
    assert isinstance(detail, list), detail
    return [error["loc"] for error in detail]


SURROGATE = r'"\ud800"'  # the JSON text of a string holding one lone surrogate
# (path, body with {} where the surrogate goes, the location the 422 must name)
SURROGATE_CASES: list[tuple[str, str, list[Any]]] = [
    ("/write_file", '{"id": "s-1", "rel_path": "a.txt", "content": %s}', ["body", "content"]),
    ("/write_file", '{"id": "s-1", "rel_path": %s, "content": "x"}', ["body", "rel_path"]),
    ("/delete_file", '{"id": "s-1", "rel_path": %s}', ["body", "rel_path"]),
    ("/rename_file", '{"id": "s-1", "old_path": "a", "new_path": %s}', ["body", "new_path"]),
    ("/run", '{"id": "s-1", "cmd": %s}', ["body", "cmd"]),
    ("/run", '{"id": "s-1", "cmd": "cat", "stdin": %s}', ["body", "stdin"]),
    ("/evaluate_code", '{"id": "s-1", "code": %s, "entry_point": "f", "io_cases": []}', ["body", "code"]),
    ("/evaluate_code", '{"id": "s-1", "code": "", "entry_point": %s, "io_cases": []}', ["body", "entry_point"]),
    ("/evaluate_code", '{"id": "s-1", "code": "", "entry_point": "f", "io_cases": [{"input": %s, "output": "1"}]}',
     ["body", "io_cases", 0, "input"]),
    ("/evaluate_code", '{"id": "s-1", "code": "", "entry_point": "f", "io_cases": [{"input": "", "output": %s}]}',
     ["body", "io_cases", 0, "output"]),
    ("/create_session", '{"id": %s}', ["body", "id"]),
]


@pytest.mark.parametrize("path,template,loc", SURROGATE_CASES, ids=[f"{p}:{'.'.join(map(str, loc[1:]))}"
                                                                  for p, _, loc in SURROGATE_CASES])
def test_a_lone_surrogate_is_422_naming_the_field(service: Service, path: str, template: str,
                                                  loc: list[Any]) -> None:
    response = _post_raw(service, path, template % SURROGATE)
    assert response.status_code == 422, response.text
    assert loc in _locs(response)


def test_a_surrogate_in_a_query_parameter_is_not_a_500(service: Service) -> None:
    """Werkzeug decodes percent-escapes that are not UTF-8 to U+FFFD, so a query string
    cannot carry a surrogate; an id made of them fails the id pattern."""
    response = requests.get(service.url + "/read_file?id=%ED%A0%80&rel_path=%ED%A0%80", timeout=30)
    assert response.status_code == 422 and ["query", "id"] in _locs(response)
    response = requests.get(service.url + "/read_file?id=no-such-session&rel_path=%ED%A0%80", timeout=30)
    assert response.status_code == 404, response.text


@pytest.mark.parametrize("depth", [1_000, 50_000])
def test_deeply_nested_json_in_an_unknown_field_is_422(service: Service, depth: int) -> None:
    raw = '{"id": "s-1", "cmd": "true", "extra": ' + "[" * depth + "]" * depth + "}"
    response = _post_raw(service, "/run", raw)
    assert response.status_code == 422, response.text
    assert "nest" in response.text and ["body"] in _locs(response)


def test_moderately_nested_json_in_a_known_field_is_an_ordinary_422(service: Service) -> None:
    """Within the nesting limit, a wrong type is reported like any other."""
    raw = '{"id": "s-1", "cmd": ' + "[" * 20 + "]" * 20 + "}"
    response = _post_raw(service, "/run", raw)
    assert response.status_code == 422 and ["body", "cmd"] in _locs(response)


@pytest.mark.parametrize("number", ["1e999", "-1e999", "NaN", "Infinity", "-Infinity"])
@pytest.mark.parametrize("path,template", [
    ("/run", '{"id": "s-1", "cmd": "true", "timeout": %s}'),
    ("/evaluate_code", '{"id": "s-1", "code": "", "entry_point": "f", "io_cases": [], "cpu_limit": %s}'),
])
def test_non_finite_numbers_give_a_strict_json_422(service: Service, path: str, template: str, number: str) -> None:
    response = _post_raw(service, path, template % number)
    assert response.status_code == 422, response.text
    _strict_json(response.text)  # raises on a bare NaN or Infinity token


def test_a_non_finite_number_in_an_unknown_field_is_refused_too(service: Service) -> None:
    """`NaN` is not JSON at all, wherever it stands."""
    response = _post_raw(service, "/run", '{"id": "s-1", "cmd": "true", "extra": NaN}')
    assert response.status_code == 422 and ["body"] in _locs(response)


def test_a_nul_byte_in_cmd_is_422_naming_the_field(service: Service, session_id: str) -> None:
    response = _post_raw(service, "/run", json.dumps({"id": session_id, "cmd": "echo a\x00b"}))
    assert response.status_code == 422, response.text
    assert ["body", "cmd"] in _locs(response) and "NUL" in response.text


def test_a_nul_byte_in_stdin_is_data(service: Service, session_id: str) -> None:
    """stdin is a stream, not an argument: a NUL in it is passed through."""
    assert service.run(session_id, "wc -c", stdin="a\x00b")["stdout"].strip() == "3"
