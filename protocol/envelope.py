"""The versioned envelope every wire message travels in.

A request is `{"v": "1.1", "id": ..., "request_id": ..., "op": ..., "body": {...}}`; a reply is
`{"v": "1.1", "id": ..., "ok": true, "body": {...}}` or
`{"v": "1.1", "id": ..., "ok": false, "error": {"code": ..., "detail": ...}}`.
Unknown fields are ignored; a different major version is refused with
`unsupported_version`. Replies carry the request's id so a client can drop stale ones.

`id` is one RPC's, unique per call, for matching its reply; `request_id` (added in 1.1) is
the HTTP request's (`protocol.requestids`), for the logs of both sides. They are kept
apart because a client may choose the request id, and may reuse it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from protocol import requestids
from protocol.errors import ErrorCode, ServiceError

# The standard library's json keeps integers of any size exact (a solution may return
# 2**100); faster encoders that round them to floats would change answers. ASCII escapes:
# a string holding a lone surrogate (a solution may return '\ud800') has no UTF-8 form.
_encode = json.JSONEncoder(separators=(",", ":")).encode


def dumps(value: Any) -> bytes:
    return _encode(value).encode()


VERSION = "1.1"
MAJOR = VERSION.split(".")[0]


@dataclass(frozen=True)
class Request:
    id: str
    op: str
    body: dict[str, Any]
    request_id: str = ""


@dataclass(frozen=True)
class Reply:
    id: str
    body: dict[str, Any] | None = None
    error: ServiceError | None = None


def _check_version(message: dict[str, Any]) -> None:
    version = str(message.get("v", ""))
    if version.split(".")[0] != MAJOR:
        raise ServiceError(
            ErrorCode.UNSUPPORTED_VERSION,
            f"wire protocol version {version!r} is not supported; this side speaks {VERSION}",
        )


def _load(raw: bytes) -> dict[str, Any]:
    try:
        message = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ServiceError(ErrorCode.BAD_REQUEST, "message is not JSON") from None
    if not isinstance(message, dict):
        raise ServiceError(ErrorCode.BAD_REQUEST, "message is not a JSON object")
    return message


def encode_request(request: Request) -> bytes:
    return dumps({"v": VERSION, "id": request.id, "request_id": request.request_id, "op": request.op,
                  "body": request.body})


def decode_request(raw: bytes) -> Request:
    """Parse a request. Raises ServiceError with the request id lost if it is unreadable.

    A `request_id` that is not a well-formed one (`protocol.requestids`) is dropped: it
    goes into the supervisor's log lines.
    """
    message = _load(raw)
    _check_version(message)
    body = message.get("body") or {}
    if not isinstance(body, dict):
        raise ServiceError(ErrorCode.BAD_REQUEST, "body is not a JSON object")
    return Request(id=str(message.get("id", "")), op=str(message.get("op", "")), body=body,
                   request_id=requestids.accept(message.get("request_id")) or "")


def request_id_of(raw: bytes) -> str:
    """Best-effort id of an unreadable request, so its error reply can still be matched."""
    try:
        return str(json.loads(raw).get("id", ""))
    except Exception:  # noqa: BLE001 - any garbage simply has no id
        return ""


def encode_reply(reply: Reply) -> bytes:
    message: dict[str, Any] = {"v": VERSION, "id": reply.id}
    if reply.error is None:
        message.update(ok=True, body=reply.body or {})
    else:
        message.update(ok=False, error=reply.error.to_dict())
    return dumps(message)


def decode_reply(raw: bytes) -> Reply:
    message = _load(raw)
    _check_version(message)
    rid = str(message.get("id", ""))
    if message.get("ok"):
        return Reply(id=rid, body=message.get("body") or {})
    return Reply(id=rid, error=ServiceError.from_dict(message.get("error") or {}))
