"""Typed, immutable results built from the service's JSON replies.

Why frozen dataclasses instead of the raw dicts the original client handed
back: attribute access is checked by type checkers and editors, results can be
shared between threads without defensive copies, and a missing field fails
loudly at the edge instead of deep inside the caller's code.

Every ``from_json`` ignores fields it does not know, so a newer server that adds
response fields (the API only ever grows, see docs/api.md §2) keeps working
with this client. Fields the original service did not send have defaults, so
the client also works against it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

__all__ = ["CaseResult", "EvaluationResult", "FileEntry", "RunResult"]

_T = TypeVar("_T")


def _known_fields(cls: type[_T], data: Mapping[str, Any]) -> dict[str, Any]:
    """Keep only the keys of ``data`` that are fields of dataclass ``cls``.

    Raises:
        TypeError: ``data`` is not a JSON object.
    """
    if not isinstance(data, Mapping):
        raise TypeError(f"expected a JSON object for {cls.__name__}, got {type(data).__name__}")
    names = {field.name for field in dataclasses.fields(cls)}  # type: ignore[arg-type]
    return {key: value for key, value in data.items() if key in names}


@dataclass(frozen=True)
class RunResult:
    """What ``POST /run`` answered.

    Attributes:
        stdout: The command's standard output (capped by the server).
        stderr: Its standard error (capped by the server).
        id: The session the command ran in.
        exit_code: The shell's exit status; ``None`` from a server that does
            not report it (the original service).
        timed_out: True when the wall-clock limit killed the command.
        truncated: True when stdout or stderr was cut at the cap.
        duration_ms: Wall-clock time of the command, when reported.
    """

    stdout: str
    stderr: str
    id: str
    exit_code: int | None = None
    timed_out: bool = False
    truncated: bool = False
    duration_ms: float | None = None

    @property
    def ok(self) -> bool:
        """True when the command finished in time with exit status 0."""
        return self.exit_code == 0 and not self.timed_out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunResult:
        """Build from the JSON reply, ignoring unknown fields."""
        return cls(**_known_fields(cls, data))


@dataclass(frozen=True)
class CaseResult:
    """The outcome of one I/O case of ``POST /evaluate_code``.

    Attributes:
        case: Index of the case in the request.
        input: The case's input as sent (a stdin/stdout case: its stdin).
        passed: True when the call returned the expected value (or the program
            printed the expected output).
        got: The returned value: a JSON value, or its ``repr`` when it has none;
            for a stdin/stdout case, what the program printed (capped).
        expected: The expected value, in the same representation (the expected
            stdout of a stdin/stdout case).
        error: ``"TypeName: message\\n<traceback>"``, ``"Timeout"``, etc., or None.
        status: ``passed``, ``failed``, ``error``, ``timeout``, ``memory``,
            ``output_limit`` (a program's stdout passed the cap), ``crashed`` or
            ``skipped``; ``None`` from the original service. Kept a plain string so
            a future status does not break the client.
        stdout: What the case printed (capped).
        duration_ms: Time the case took, when reported.
        stderr: What a stdin/stdout case's program wrote to stderr (capped);
            ``None`` for function-call cases.
        cpu_ms: CPU time the case used, when reported.
        peak_memory_kb: Peak resident memory of the case's process, when reported.
        score: The case's credit in [0, 1]: 1.0 when it passed, else 0.0, unless a
            checker gave it a score of its own; ``None`` from a server that does not
            report it (the original service).
    """

    case: int
    input: str
    passed: bool
    got: Any = None
    expected: Any = None
    error: str | None = None
    status: str | None = None
    stdout: str = ""
    duration_ms: float | None = None
    stderr: str | None = None
    cpu_ms: float | None = None
    peak_memory_kb: int | None = None
    score: float | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CaseResult:
        """Build from one element of ``case_results``, ignoring unknown fields."""
        return cls(**_known_fields(cls, data))


@dataclass(frozen=True)
class EvaluationResult:
    """What ``POST /evaluate_code`` answered.

    Attributes:
        passed: True only when every case passed.
        case_results: One :class:`CaseResult` per case, in case order (a tuple,
            so the result stays immutable).
        error: The SyntaxError when the code does not compile, else ``None``.
        score: The mean of the cases' scores in [0, 1] (skipped cases count 0;
            0.0 with no case), usable as a reward as it is; ``None`` from a server
            that does not report it (the original service).
        passed_count: How many cases passed; ``None`` from such a server.
    """

    passed: bool
    case_results: tuple[CaseResult, ...] = ()
    error: str | None = None
    score: float | None = None
    passed_count: int | None = None

    @property
    def failed_cases(self) -> tuple[CaseResult, ...]:
        """The cases that did not pass, for quick reporting."""
        return tuple(case for case in self.case_results if not case.passed)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> EvaluationResult:
        """Build from the JSON reply, ignoring unknown fields at every level."""
        fields = _known_fields(cls, data)
        raw_cases = fields.get("case_results") or []
        if not isinstance(raw_cases, list):
            raise TypeError("case_results must be a list")
        fields["case_results"] = tuple(CaseResult.from_json(item) for item in raw_cases)
        return cls(**fields)


@dataclass(frozen=True)
class FileEntry:
    """One entry of ``GET /list_files``.

    Attributes:
        path: Path relative to the session directory.
        size: Size in bytes as the server reports it.
        kind: ``file``, ``dir`` or ``symlink`` (a link is listed, never followed).
            Kept a plain string so a future kind does not break the client.
    """

    path: str
    size: int
    kind: str

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FileEntry:
        """Build from one element of ``files``, ignoring unknown fields."""
        return cls(**_known_fields(cls, data))
