"""Request bodies and reply parsing: the pure part of every call, shared by both clients.

:class:`~repl_client.ReplClient` (requests) and :class:`~repl_client.AsyncReplClient`
(httpx) differ only in how they send; what they send, how long they wait for it and what
they make of the answer is written here once.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

from .deadlines import answer_timeout, judging_time
from .errors import InvalidResponse, ReplError
from .results import EvaluationResult, FileEntry, RunResult

__all__ = [
    "IoCase",
    "decode_base64",
    "encode_content",
    "evaluation_body",
    "evaluation_judging",
    "evaluation_timeout",
    "evaluation_units",
    "expect_success",
    "io_case",
    "parse",
    "string_field",
    "without_none",
]

IoCase = Mapping[str, Any] | Sequence[Any]
_Result = TypeVar("_Result", RunResult, EvaluationResult, FileEntry)


def without_none(body: dict[str, Any]) -> dict[str, Any]:
    """Drop optional fields left at ``None`` so the service applies its defaults."""
    return {key: value for key, value in body.items() if value is not None}


def io_case(case: IoCase) -> dict[str, Any]:
    """Normalise one I/O case to ``{"input": ..., "output": ...}``."""
    if isinstance(case, Mapping):
        return dict(case)
    if isinstance(case, Sequence) and not isinstance(case, (str, bytes)) and len(case) == 2:
        return {"input": case[0], "output": case[1]}
    raise TypeError(f"an io case is a mapping or an (input, output) pair, not {case!r}")


def evaluation_body(
    *,
    id: str,
    code: str,
    entry_point: str | None = None,
    io_cases: Iterable[IoCase] = (),
    timeout: float | None = None,
    cpu_limit: float | None = None,
    memory_limit_mb: int | None = None,
    float_tolerance: float | None = None,
    stop_on_first_failure: bool = False,
    tests: str | None = None,
    isolation: str | None = None,
    checker: Mapping[str, Any] | None = None,
    interactor: Mapping[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The ``/evaluate_code`` body for ``evaluate_code``'s arguments (also one submission
    of a batch). ``extra`` fields are sent as given, for fields newer than this client."""
    return without_none(
        {
            "id": id,
            "code": code,
            "entry_point": entry_point,
            "io_cases": [io_case(case) for case in io_cases],
            "timeout": timeout,
            "cpu_limit": cpu_limit,
            "memory_limit_mb": memory_limit_mb,
            "float_tolerance": float_tolerance,
            "stop_on_first_failure": stop_on_first_failure or None,
            "tests": tests,
            "isolation": isolation,
            "checker": dict(checker) if checker is not None else None,
            "interactor": dict(interactor) if interactor is not None else None,
            **extra,
        }
    )


def evaluation_units(body: Mapping[str, Any]) -> int:
    """How many cases' time the service may spend on the evaluation ``body``: its io cases,
    a program's compile step (one more case, with a case's limits) and the tests' cases."""
    return len(body.get("io_cases") or ()) + (1 if body.get("compile") else 0) + _tests_bound(body.get("tests"))


def evaluation_timeout(body: Mapping[str, Any]) -> float:
    """How long the service may take to answer the evaluation ``body`` (``deadlines``)."""
    return answer_timeout("evaluate", body.get("timeout"), evaluation_units(body), evaluation_judging(body))


def evaluation_judging(body: Mapping[str, Any]) -> float:
    """How long the checker of the evaluation ``body`` may take in all, after each case and
    for its compile step, or its interactor's compile step (0 without either)."""
    checker, interactor = body.get("checker"), body.get("interactor")
    judge = checker if isinstance(checker, Mapping) else interactor if isinstance(interactor, Mapping) else None
    if judge is None:
        return 0.0
    runs = (len(body.get("io_cases") or ()) if judge is checker else 0) + (1 if judge.get("compile") else 0)
    return judging_time(runs, judge.get("timeout"))


def _tests_bound(tests: Any) -> int:
    """At least as many cases as the service plans in ``tests`` (an assert or a test
    method each; an inherited method counted twice): the answer may take that long."""
    if not isinstance(tests, str):
        return 0
    return tests.count("assert") + 2 * tests.count("def test") + 1


def encode_content(content: str | bytes, encoding: str | None) -> tuple[str, str | None]:
    """Return the wire text and wire encoding for ``write_file``.

    Bytes always travel as base64, since JSON cannot carry arbitrary bytes.
    """
    if isinstance(content, (bytes, bytearray, memoryview)):
        if encoding not in (None, "base64"):
            raise ValueError(f"bytes content needs encoding None or 'base64', not {encoding!r}")
        return base64.b64encode(bytes(content)).decode("ascii"), "base64"
    if not isinstance(content, str):
        raise TypeError(f"content must be str or bytes, not {type(content).__name__}")
    return content, encoding


def decode_base64(content: str) -> bytes:
    """Decode the base64 ``content`` of a read, failing clearly if it is not base64."""
    try:
        return base64.b64decode(content, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidResponse(f"content is not valid base64: {exc}", status_code=200) from exc


def string_field(reply: Any, name: str) -> str:
    """Return ``reply[name]``, which the API promises is a string."""
    value = reply.get(name) if isinstance(reply, dict) else None
    if not isinstance(value, str):
        raise InvalidResponse(f"reply has no string field {name!r}", status_code=200, body=reply)
    return value


def parse(cls: type[_Result], data: Any) -> _Result:
    """Build result ``cls`` from JSON, turning a shape mismatch into InvalidResponse."""
    try:
        return cls.from_json(data)
    except (TypeError, ValueError, KeyError) as exc:
        raise InvalidResponse(
            f"reply does not fit {cls.__name__}: {exc}", status_code=200, body=data
        ) from exc


def expect_success(reply: Any) -> None:
    """Raise when a mutation's reply says ``success: false`` (never expected)."""
    if isinstance(reply, dict) and reply.get("success") is False:
        raise ReplError("service reported success: false", status_code=200, body=reply)
