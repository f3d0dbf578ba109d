"""Runs in: every process of the sandbox path: each builds or reads these shapes.

The shapes passed along the sandbox path: supervisor -> sandbox init -> template -> unit.

Every message between those processes is one of these dataclasses, sent as JSON (through
`frames` or the template's control socket). One module holds them all so a field is
named once and each side builds and reads it the same way.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass
from typing import Any, Literal

from protocol.testplan import PlannedTest

# The `cause` of a sandbox's reply to a job whose unit the template could not fork (the
# reply's `code` says whether anything of the job ran); the pool then retires the sandbox.
FORK_FAILED = "fork_failed"


@dataclass(frozen=True)
class CaseSpec:
    """One io_case as the request gave it: Python source text for both sides of a
    function-call case; for a program case, the stdin text and the expected stdout."""

    input: str
    output: str


@dataclass(frozen=True)
class UnitLimits:
    """The rlimits a unit lowers itself to before it runs user code."""

    cpu_seconds: int
    memory_bytes: int
    max_file_bytes: int
    cpu_hard_seconds: int = 0  # 0: one second past `cpu_seconds`; a unit serving many cases has their sum


@dataclass(frozen=True)
class RunJob:
    """A `/run` command, as the supervisor hands it to a sandbox."""

    session: str
    cmd: str
    stdin: str
    timeout: float
    memory_mb: int
    output_limit: int
    fsize: int
    measure_usage: bool = True
    scratch_mb: int = 0  # unused: a command always runs in a session that exists
    kind: Literal["run"] = "run"


@dataclass(frozen=True)
class EvaluateJob:
    """An `/evaluate_code` request, as the supervisor hands it to a sandbox.

    `session` is None for an unknown session id: the cases then get an empty scratch
    directory (a tmpfs of `scratch_mb`), discarded with the job.
    """

    session: str | None
    code: str
    entry_point: str
    cases: tuple[CaseSpec, ...]
    timeout: float
    cpu: float
    memory_mb: int
    stdout_limit: int
    scratch_mb: int
    fsize: int
    measure_usage: bool = False
    result_budget: int = 48 << 20
    float_tolerance: float | None = None  # None: exact `==`; see `values.close`
    stop_on_first_failure: bool = False
    program: ProgramSpec | None = None  # program (stdin/stdout) cases: how to run them
    tests: str = ""  # test-code mode: the tests' source, and the tests planned in it (after the cases)
    test_plan: tuple[PlannedTest, ...] = ()
    isolation: Literal["request", "case"] = "request"  # see `CaseUnit`
    checker: JudgeSpec | None = None  # decides each case instead of comparing (`judges`)
    interactor: JudgeSpec | None = None  # talks to the program of each case and decides it (`interaction`)
    kind: Literal["evaluate"] = "evaluate"


@dataclass(frozen=True)
class ProgramSpec:
    """How the cases of a program evaluation run and are compared (docs/api.md §4), every
    default already filled in by the supervisor (`operations._program`)."""

    cmd: str | None       # None: `code` run by the sandbox's Python
    compile: str | None   # run once before the cases
    main_file: str
    compare: str
    rel_tol: float
    abs_tol: float


@dataclass(frozen=True)
class JudgeSpec:
    """A request's checker (docs/api.md §4.3), its timeout filled in by the supervisor:
    Python `code`, or a `cmd` in testlib's protocol with an optional `compile`, and the
    `files` saved beside either."""

    code: str | None
    cmd: str | None
    compile: str | None
    files: dict[str, str]
    timeout: float


SandboxJob = RunJob | EvaluateJob


# --- what the init asks of the template ---------------------------------------------------

@dataclass(frozen=True)
class CaseUnit:
    """A unit that runs an evaluation's function cases or tests: it compiles the code,
    then answers each `CaseMessage` on its stdin with a `CaseReport` on its report pipe,
    until the init closes its stdin or ends it (docs/api.md §4, isolation)."""

    code: str
    entry_point: str
    stdout_limit: int
    limits: UnitLimits
    cwd: str
    float_tolerance: float | None = None  # for an expected expression, compared in the case
    # "request": each case runs the module level again, in this process; "case": the module
    # level runs once here and each case runs in a fork of this process.
    isolation: Literal["request", "case"] = "request"
    # Test-code mode: the solution runs in a child forked before any message is read, so
    # that process never holds the tests (see `testcode.judge`).
    tests: bool = False
    kind: Literal["case"] = "case"


@dataclass(frozen=True)
class CaseMessage:
    """One case (or test) for a `CaseUnit`, on its stdin."""

    token: str            # echoed in the report: no other message's report can stand for this one
    cpu_seconds: float    # the case's CPU limit: the unit's soft RLIMIT_CPU for it
    input: str | None = None   # a function case's argument list; None with `test`, or to only compile
    output: str | None = None  # an expected expression; None: the init keeps the (literal) expected value
    tests: str = ""            # test-code mode: the tests' source, and the test to run
    test: PlannedTest | None = None


@dataclass(frozen=True)
class RunUnit:
    """One `/run` command for the template to fork and exec."""

    cmd: str
    limits: UnitLimits
    cwd: str
    kind: Literal["run"] = "run"


@dataclass(frozen=True)
class ProgramUnit:
    """One Python program case, run as `__main__` by the unit itself instead of a new
    interpreter (docs/api.md §4.1): the program's file, with the sandbox's environment
    plus `environment`."""

    path: str
    limits: UnitLimits
    cwd: str
    environment: dict[str, str] = dataclasses.field(default_factory=dict)
    kind: Literal["program"] = "program"


@dataclass(frozen=True)
class ExecUnit:
    """One program for the template to fork and exec as it is (a program case, or its
    evaluation's compile step): `argv` with the sandbox's environment plus `environment`."""

    argv: tuple[str, ...]
    limits: UnitLimits
    cwd: str
    environment: dict[str, str] = dataclasses.field(default_factory=dict)
    kind: Literal["exec"] = "exec"


@dataclass(frozen=True)
class CheckerUnit:
    """One run of a Python checker (`pychecker`): its `code` file, and the case's input,
    output and answer files, all in the checker's directory (`judges`). `values`: the
    output and answer files hold values in the tagged form of `values.encode` (a
    function case), not text (a program case)."""

    code: str
    input: str
    output: str
    answer: str
    values: bool
    limits: UnitLimits
    cwd: str
    kind: Literal["checker"] = "checker"


@dataclass(frozen=True)
class InteractorUnit:
    """One run of an interactor (`pychecker.interact`): not dumpable from its start, it
    says it is ready on stdout, then reads its code, the case's input and answer from
    stdin, and talks to the program through stdin and stdout (`interaction`); a command
    interactor is exec'd instead, with the input and answer as files of its own."""

    limits: UnitLimits
    cwd: str
    argv: tuple[str, ...] = ()  # a command interactor (its program, in `cwd`), exec'd after the frame; () Python
    kind: Literal["interactor"] = "interactor"


Unit = CaseUnit | RunUnit | ExecUnit | ProgramUnit | CheckerUnit | InteractorUnit
# Units that use stdin, stdout and stderr (not a report pipe).
StdioUnit = (RunUnit, ExecUnit, ProgramUnit, CheckerUnit, InteractorUnit)


# --- what comes back -------------------------------------------------------------------

@dataclass
class CaseReport:
    """What a case's unit says about its one case: claims, checked by the init.

    `got` is the returned value in the tagged encoding of `values.encode` (exact builtin
    types only; anything else is opaque). `eq` is the unit's own `got ==
    expected`, used only when the init cannot compare the two itself.
    """

    outcome: Literal["returned", "error", "memory", "compile_error", "compiled", "test", "ended"]
    got: Any = None
    eq: bool = False
    expected: Any = None  # the unit's view of the expected value (wire form)
    error: str | None = None
    stdout: str = ""
    status: str | None = None  # outcome "test": the test's status (see `judge`)
    token: str = ""  # the token of the `CaseMessage` it answers
    wait_status: int | None = None  # outcome "ended" (isolation "case"): how the case's fork ended


@dataclass(kw_only=True)
class CaseResult:
    """One entry of `case_results`, as the client sees it: the one builder of that shape
    (protocol.models.CaseResult validates the same fields on the web side)."""

    case: int
    input: str
    passed: bool = False
    got: Any = None
    expected: Any = None
    error: str | None = None
    status: str
    stdout: str = ""
    duration_ms: float = 0.0
    cpu_ms: float | None = None
    peak_memory_kb: int | None = None
    score: float | None = None  # None: 1.0 if passed, else 0.0 (filled by to_wire)
    stderr: str | None = None  # program cases only

    def to_wire(self) -> dict[str, Any]:
        # Field by field, not `asdict`: that copies `got` and `expected` item by item, seconds
        # for a list of millions of numbers, in the init, outside every case's deadline.
        data = {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}
        if data["stderr"] is None:
            del data["stderr"]  # a function case has no stderr of its own
        data["score"] = case_score(self.score, self.passed)
        return data


SCORE_DIGITS = 6  # a score is rounded to this many decimals: no float noise, a millionth of credit kept


def case_score(score: float | None, passed: bool) -> float:
    """A case's score in [0, 1]: the one it was given (a checker's), else 1.0 for a case
    that passed and 0.0 for any other (a skipped case included). A score that is not a
    finite number counts 0."""
    if score is None:
        return 1.0 if passed else 0.0
    value = float(score)
    if not math.isfinite(value):
        return 0.0
    return round(min(max(value, 0.0), 1.0), SCORE_DIGITS)


def evaluation_reply(case_results: list[dict[str, Any]], error: str | None = None) -> dict[str, Any]:
    """The reply body of an evaluation (docs/api.md §4), from its cases' wire forms: the
    one place `passed`, `score` and `passed_count` are computed, by every kind of case
    (function, program, test-code) and every end (a compile error included).

    `passed`: no error and every case passed (with no case at all, true, as in the
    service this one replaces). `score`: the mean of the cases' scores; 0.0 with no case,
    since nothing was shown to work (a reward is never given for an empty test set).
    `passed_count`: how many cases passed.
    """
    passed_count = sum(1 for result in case_results if result["passed"])
    total = sum(float(result["score"]) for result in case_results)
    score = round(total / len(case_results), SCORE_DIGITS) if case_results else 0.0
    return {"passed": error is None and passed_count == len(case_results), "case_results": case_results,
            "error": error, "score": score, "passed_count": passed_count}


@dataclass
class Exit:
    """How a unit's process ended, as the template (its parent) reaped it."""

    status: int | None  # os.wait status; None: never reaped
    cpu_seconds: float = 0.0
    maxrss_kb: int = 0
    start_kb: int = 0  # the peak it was born with (its template's, which a fork inherits): not its own


# --- the codec -------------------------------------------------------------------------

def to_wire(message: Any) -> dict[str, Any]:
    """A message as JSON-ready data (tuples become lists)."""
    return dataclasses.asdict(message)


def from_wire(kind: Any, data: Any) -> Any:
    """Rebuild a value of type `kind` from its wire form: a dataclass of this module (or
    `PlannedTest`), a union of them told apart by their `kind` field, an optional, a tuple
    or dict of them, or plain JSON data. Unknown fields are ignored (a newer sender), and
    a missing required field or a wrong shape raises TypeError, KeyError or ValueError.
    """
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        if not isinstance(data, dict):
            raise TypeError(f"{kind.__name__}: expected an object")
        hints = _hints(kind)
        return kind(**{f.name: from_wire(hints[f.name], data[f.name])
                       for f in dataclasses.fields(kind) if f.name in data})
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (types.UnionType, typing.Union):
        if data is None and type(None) in args:
            return None
        return from_wire(_member(kind, [a for a in args if a is not type(None)], data), data)
    if origin is tuple:
        return tuple(from_wire(args[0], item) for item in data)
    if origin is dict:
        return {str(key): from_wire(args[1], value) for key, value in data.items()}
    if kind is str and not isinstance(data, str):
        raise TypeError("expected a string")
    return data


def _member(union: Any, members: list[Any], data: Any) -> Any:
    """The member of a union of dataclasses that `data` is, by its `kind` field."""
    if len(members) == 1:
        return members[0]
    for member in members:
        field = next((f for f in dataclasses.fields(member) if f.name == "kind"), None)
        if field is not None and isinstance(data, dict) and field.default == data.get("kind"):
            return member
    raise ValueError(f"no member of {union} has kind {data.get('kind') if isinstance(data, dict) else data!r}")


_HINT_CACHE: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    """A dataclass's field types, resolved once per class (filled at import, below, so
    that every forked process inherits them instead of resolving them again)."""
    hints = _HINT_CACHE.get(cls)
    if hints is None:
        hints = _HINT_CACHE[cls] = typing.get_type_hints(cls)
    return hints


for _cls in (CaseSpec, UnitLimits, RunJob, EvaluateJob, ProgramSpec, JudgeSpec, CaseUnit, RunUnit, ExecUnit,
             ProgramUnit, CheckerUnit, InteractorUnit, CaseMessage, PlannedTest, CaseReport, CaseResult, Exit):
    _hints(_cls)
