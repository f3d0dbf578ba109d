"""JSON at the HTTP edge, strict in both directions.

In: a request body is RFC 8259 JSON. Python's parser also takes `NaN` and `Infinity`,
which no other client would send, and recurses once per nesting level, so a small body
of 50,000 `[` would end in a RecursionError (a 500). Both are refused here as invalid
JSON, and so is any nesting deeper than `MAX_DEPTH` (no request needs more than four
levels; the limit keeps every later step, validation and the error reply echoing the
input, far from the interpreter's recursion limit).

Out: every body the web tier sends parses with a strict JSON parser and encodes as
UTF-8. What has no JSON spelling is spelled as text instead: a non-finite float as its
`repr` (`inf`, `nan`, as the evaluation reply does for such values). A string holding a
lone surrogate (an echoed input, or a value a solution returned) goes out as JSON's
`\\udXXX` escape, which a JSON parser turns back into the same string. Ordinary replies
take the fast path unchanged.
"""

from __future__ import annotations

import json
import math
from typing import Any

from flask import Response

from protocol.errors import ErrorCode, ServiceError

MAX_DEPTH = 32
_strict_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode
_ascii_encode = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode


def _invalid(msg: str, kind: str = "json_invalid") -> ServiceError:
    return ServiceError(ErrorCode.INVALID, [{"type": kind, "loc": ["body"], "msg": msg}])


def _refuse_constant(token: str) -> Any:
    raise ValueError(f"{token} is not a JSON value")


def _depth_exceeds(value: Any, limit: int) -> bool:
    """Whether containers nest deeper than `limit` levels (iteratively: no recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        for child in children:
            if isinstance(child, (dict, list)):
                if depth + 1 > limit:
                    return True
                stack.append((child, depth + 1))
    return False


def parse_body(raw: bytes) -> Any:
    """Parse a request body.

    Raises:
        ServiceError: INVALID (422, FastAPI's shape, `loc` `["body"]`) when the body is
            not strict JSON or nests deeper than `MAX_DEPTH`.
    """
    try:
        value = json.loads(raw, parse_constant=_refuse_constant)
    except RecursionError:
        raise _invalid(f"request body nests deeper than {MAX_DEPTH} levels", "json_too_deep") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise _invalid(f"request body is not valid JSON: {exc}") from None
    if isinstance(value, (dict, list)) and _depth_exceeds(value, MAX_DEPTH):
        raise _invalid(f"request body nests deeper than {MAX_DEPTH} levels", "json_too_deep")
    return value


def _representable(value: Any) -> Any:
    """`value` with what strict JSON in UTF-8 cannot carry spelled as text."""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, dict):
        return {k: _representable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_representable(v) for v in value]
    return value


def dumps(value: Any) -> bytes:
    """Encode `value` as strict JSON in UTF-8, whatever it holds (see the module docstring)."""
    try:
        return _strict_encode(value).encode("utf-8")
    except UnicodeEncodeError:
        # A string with no UTF-8 form (a lone surrogate a solution returned): JSON's
        # \\uXXXX escape carries it, and a JSON parser gives the same string back.
        return _ascii_encode(_representable(value)).encode("ascii")
    except ValueError:
        return _strict_encode(_representable(value)).encode("utf-8")


def json_response(body: Any, status: int = 200) -> Response:
    """The one way the web tier answers with JSON."""
    return Response(dumps(body), status=status, mimetype="application/json")
