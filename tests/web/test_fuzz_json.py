"""Fuzz the JSON edge: any JSON value in any field of any endpoint, and raw bodies that
JSON libraries would not produce (lone surrogates, NaN, deep nesting), never give a 500
and always give a strict JSON body (Hypothesis, against the real service).

Complements `test_fuzz.py`, whose cases follow the OpenAPI document's types.
"""

from __future__ import annotations

import json
from typing import Any

import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol import models
from tests.support.service import Service
from webapp.api import ENDPOINTS

TEXT = st.text(st.characters(codec=None, min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=()), max_size=12)
SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | TEXT
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
                      max_leaves=8)
FIELDS = sorted({name for e in ENDPOINTS for name in e.request_model.model_fields} | {"input", "output", "extra"})


def _strict(text: str) -> Any:
    def refuse(token: str) -> None:
        raise ValueError(token)
    return json.loads(text, parse_constant=refuse)


@settings(max_examples=150, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
@given(endpoint=st.sampled_from(ENDPOINTS), body=st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=5),
       depth=st.sampled_from([0, 0, 0, 33, 2000]))
def test_no_json_body_gives_a_server_error(service: Service, endpoint: Any, body: dict[str, Any], depth: int) -> None:
    if body.get("id") is not None and not isinstance(body["id"], str):
        body["id"] = "fuzz-json"  # keep most requests on one session
    if depth:
        body["nest"] = "@@"
    raw = json.dumps(body)  # ASCII: surrogates stay \\udXXX escapes, non-finite floats NaN/Infinity
    if depth:
        raw = raw.replace('"@@"', "[" * depth + "]" * depth)
    if endpoint.method == "GET":
        params = {k: v for k, v in body.items() if isinstance(v, str)}
        response = requests.get(service.url + endpoint.path, params={k: v.encode("utf-8", "surrogatepass")
                                                                    for k, v in params.items()}, timeout=60)
    else:
        response = requests.post(service.url + endpoint.path, data=raw.encode("ascii"),
                                 headers={"Content-Type": "application/json"}, timeout=60)
    assert response.status_code < 500 or response.status_code == 503, (response.status_code, response.text)
    assert response.status_code != 503 or "unavailable" in response.text
    _strict(response.text)


def test_every_request_string_is_text() -> None:
    """The Unicode rule cannot be forgotten: a plain `str` field is found."""
    class Forgetful(models.RunRequest):
        note: str

    assert not [m for m, _ in models.OPERATIONS.values() if models.unchecked_strings(m.__pydantic_core_schema__)]
    assert models.unchecked_strings(Forgetful.__pydantic_core_schema__)
