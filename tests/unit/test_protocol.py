"""Wire envelope and path rules: pure functions, no processes."""

from __future__ import annotations

import json

import pytest

from protocol import envelope
from protocol.errors import ErrorCode, ServiceError
from supervisor import paths


def test_request_round_trip():
    raw = envelope.encode_request(envelope.Request(id="r1", op="run", body={"id": "s", "cmd": "ls"}))
    request = envelope.decode_request(raw)
    assert (request.id, request.op, request.body) == ("r1", "run", {"id": "s", "cmd": "ls"})


def test_reply_round_trip_with_error_and_big_integers():
    ok = envelope.decode_reply(envelope.encode_reply(envelope.Reply(id="a", body={"got": 2 ** 80})))
    assert ok.body == {"got": 2 ** 80} and ok.error is None
    err = envelope.decode_reply(envelope.encode_reply(
        envelope.Reply(id="b", error=ServiceError(ErrorCode.NOT_FOUND, "gone"))))
    assert err.error is not None and err.error.code is ErrorCode.NOT_FOUND and err.error.detail == "gone"


def test_unknown_major_version_is_refused_and_unknown_fields_ignored():
    with pytest.raises(ServiceError) as info:
        envelope.decode_request(json.dumps({"v": "2.0", "id": "x", "op": "run", "body": {}}).encode())
    assert info.value.code is ErrorCode.UNSUPPORTED_VERSION and "2.0" in info.value.detail
    minor = envelope.decode_request(json.dumps({"v": "1.7", "id": "x", "op": "run", "body": {}, "extra": 1}).encode())
    assert minor.op == "run"


def test_unknown_error_code_becomes_internal():
    assert ServiceError.from_dict({"code": "martian", "detail": "?"}).code is ErrorCode.INTERNAL


@pytest.mark.parametrize("rel, parts", [
    ("a.txt", ["a.txt"]), ("a/b/c", ["a", "b", "c"]), ("./a//b/", ["a", "b"]), ("..a/b..", ["..a", "b.."]),
])
def test_split_accepts(rel, parts):
    assert paths.split(rel) == parts


@pytest.mark.parametrize("rel, words", [
    ("/etc/passwd", "absolute"), ("../x", "'..'"), ("a/../../x", "'..'"), ("a/..", "'..'"),
    ("a\x00b", "NUL"), ("", "name a file"), (".", "name a file"), ("x" * 5000, "longer"),
    ("a/" + "y" * 300, "component"),
])
def test_split_refuses(rel, words):
    with pytest.raises(ServiceError) as info:
        paths.split(rel)
    assert info.value.code is ErrorCode.BAD_REQUEST and words in info.value.detail
