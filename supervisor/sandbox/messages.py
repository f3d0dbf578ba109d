"""Runs in: every process of the sandbox path: each builds or reads these shapes.

The shapes passed along the sandbox path: supervisor -> sandbox init -> template -> unit.

Every message between those processes is one of these dataclasses, sent as JSON (through
`frames` or the template's control socket). One module holds them all so a field is
named once and each side builds and reads it the same way.
"""

from __future__ import annotations

import dataclasses
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
    kind: Literal["evaluate"] = "evaluate"


@dataclass(frozen=True)
class ProgramSpec:
    """How the cases of a program evaluation run and are compared (docs/api.md §4)."""

    cmd: str | None = None       # None: `code` run by the sandbox's Python
    compile: str | None = None   # run once before the cases
    main_file: str = "main.py"
    compare: str = "lines"
    rel_tol: float = 1e-6
    abs_tol: float = 1e-6


SandboxJob = RunJob | EvaluateJob


def job_to_wire(job: SandboxJob) -> dict[str, Any]:
    return dataclasses.asdict(job)


def job_from_wire(data: dict[str, Any]) -> SandboxJob:
    """Rebuild a job sent by the supervisor (unknown fields are ignored)."""
    if data.get("kind") == "run":
        return RunJob(**_known(RunJob, data))
    values = _known(EvaluateJob, data)
    values["cases"] = tuple(CaseSpec(**_known(CaseSpec, c)) for c in values.get("cases", ()))
    if values.get("program") is not None:
        values["program"] = ProgramSpec(**_known(ProgramSpec, values["program"]))
    values["test_plan"] = tuple(PlannedTest(**_known(PlannedTest, t)) for t in values.get("test_plan", ()))
    return EvaluateJob(**values)


def _known(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in data.items() if k in names}


# --- what the init asks of the template ---------------------------------------------------

@dataclass(frozen=True)
class CaseUnit:
    """One evaluation case for the template to fork."""

    code: str
    entry_point: str
    case: CaseSpec | None  # None: only compile the code (a request with no case)
    stdout_limit: int
    limits: UnitLimits
    cwd: str
    expected_withheld: bool = False  # the init parsed the expected output; the case never sees it
    float_tolerance: float | None = None  # for an expected expression, compared in the case
    # Test-code mode: the test to run comes after the fork of the solution's process, on
    # the unit's stdin (`TestMessage`), so that process never holds the tests (see `judge`).
    tests_follow: bool = False
    kind: Literal["case"] = "case"


@dataclass(frozen=True)
class RunUnit:
    """One `/run` command for the template to fork and exec."""

    cmd: str
    limits: UnitLimits
    cwd: str
    kind: Literal["run"] = "run"


@dataclass(frozen=True)
class ExecUnit:
    """One program for the template to fork and exec as it is (a program case, or its
    evaluation's compile step): `argv` with the sandbox's environment plus `environment`."""

    argv: tuple[str, ...]
    limits: UnitLimits
    cwd: str
    environment: dict[str, str] = dataclasses.field(default_factory=dict)
    kind: Literal["exec"] = "exec"


Unit = CaseUnit | RunUnit | ExecUnit
StdioUnit = (RunUnit, ExecUnit)  # units that use stdin, stdout and stderr (not a report pipe)


def unit_to_wire(unit: Unit) -> dict[str, Any]:
    return dataclasses.asdict(unit)


def unit_from_wire(data: dict[str, Any]) -> Unit:
    limits = UnitLimits(**data["limits"])
    if data["kind"] == "run":
        return RunUnit(cmd=data["cmd"], limits=limits, cwd=data["cwd"])
    if data["kind"] == "exec":
        return ExecUnit(argv=tuple(str(a) for a in data["argv"]), limits=limits, cwd=data["cwd"],
                        environment={str(k): str(v) for k, v in data.get("environment", {}).items()})
    case = CaseSpec(**data["case"]) if data.get("case") is not None else None
    return CaseUnit(code=data["code"], entry_point=data["entry_point"], case=case,
                    stdout_limit=data["stdout_limit"], limits=limits, cwd=data["cwd"],
                    expected_withheld=bool(data.get("expected_withheld")),
                    float_tolerance=data.get("float_tolerance"), tests_follow=bool(data.get("tests_follow")))


@dataclass(frozen=True)
class TestMessage:
    """What a test-code case reads on its stdin once the solution's process is forked."""

    tests: str
    test: PlannedTest


def test_message_from_wire(data: dict[str, Any]) -> TestMessage:
    return TestMessage(tests=str(data["tests"]), test=PlannedTest(**_known(PlannedTest, data["test"])))


# --- what comes back -------------------------------------------------------------------

@dataclass
class CaseReport:
    """What a case's unit says about its one case: claims, checked by the init.

    `got` is the returned value in the tagged encoding of `values.encode` (exact builtin
    types only; anything else is opaque). `eq` is the unit's own `got ==
    expected`, used only when the init cannot compare the two itself.
    """

    outcome: Literal["returned", "error", "memory", "compile_error", "compiled", "test"]
    got: Any = None
    eq: bool = False
    expected: Any = None  # the unit's view of the expected value (wire form)
    error: str | None = None
    stdout: str = ""
    status: str | None = None  # outcome "test": the test's status (see `judge`)


@dataclass
class CaseResult:
    """One entry of `case_results`, as the client sees it."""

    case: int
    input: str
    passed: bool
    got: Any
    expected: Any
    error: str | None
    status: str
    stdout: str
    duration_ms: float
    cpu_ms: float | None = None
    peak_memory_kb: int | None = None


@dataclass
class Exit:
    """How a unit's process ended, as the template (its parent) reaped it."""

    status: int | None  # os.wait status; None: never reaped
    cpu_seconds: float = 0.0
    maxrss_kb: int = 0
