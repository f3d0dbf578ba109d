"""One pydantic model per request and reply.

The web tier validates HTTP input with the request models; the supervisor validates the
same bodies again when they arrive over the wire (a malformed message is refused, never
half-executed); the reply models describe what the supervisor sends back and generate the
OpenAPI document. Limits that depend on configuration (the largest timeout a request may
ask for) are checked against the `Config` passed as validation context.
"""

from __future__ import annotations

import shlex
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails

from protocol import limits, testplan

SESSION_ID_PATTERN = r"^[A-Za-z0-9_-]{1,128}$"


def _unicode_text(value: str) -> str:
    """Refuse a string that is no Unicode text: a lone surrogate.

    JSON can spell one (`"\\ud800"`) and Python's parser accepts it, but it has no UTF-8
    encoding, so the message carrying it could never be sent to the supervisor, nor
    a file name or command made of it.
    """
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"must be Unicode text: a lone surrogate (U+{ord(value[exc.start]):04X}) "
                         f"at position {exc.start} has no UTF-8 encoding") from None
    return value


def _no_nul(value: str) -> str:
    """Refuse a NUL character: an argument of exec(2) is a C string, a NUL would end it."""
    position = value.find("\x00")
    if position >= 0:
        raise ValueError(f"must not contain a NUL character (found at position {position}): "
                         "a command line cannot carry one")
    return value


# Every string field of a request is `Text` (or built on it); `check_request_strings`
# below refuses, when this module is imported, a request model with a plain `str`.
Text = Annotated[str, AfterValidator(_unicode_text)]
Command = Annotated[Text, AfterValidator(_no_nul), AfterValidator(limits.check_argument)]
SessionId = Annotated[
    Text,
    Field(pattern=SESSION_ID_PATTERN, description="1-128 characters of [A-Za-z0-9_-]; a UUID fits."),
]
RelPath = Annotated[Text, Field(description="A path relative to the session directory, e.g. `a/b.txt`.")]
Encoding = Literal["utf-8", "base64"]
# A limit in seconds: positive and finite (`1e999` parses to infinity, which is no limit).
Seconds = Annotated[float, Field(gt=0, allow_inf_nan=False)]


class _Model(BaseModel):
    # Unknown fields are ignored so that newer clients keep working.
    model_config = ConfigDict(extra="ignore")


def _check_maximum(value: Any, info: ValidationInfo, op: str) -> Any:
    """Refuse a value above the server's configured maximum (`protocol.limits`)."""
    return limits.check(op, info.field_name or "", value, (info.context or {}).get("config"))


# --- evaluation ------------------------------------------------------------------------

class IOCase(_Model):
    """One case, of one of two kinds: a function call (`input`, `output`: the entry point
    is called with `input` and must return `output`) or a program run (`stdin`, `stdout`:
    the program is fed `stdin` and must print `stdout`). Which kind a case is, and what
    each kind needs, is decided here and nowhere else (a request holds one kind:
    `EvaluateRequest`)."""

    input: Text | None = Field(None, description="The argument list of a Python call: `a=1, b=2`, `[1, 2]`, or empty.")
    output: Text | None = Field(None, description="The expected value: a Python literal or an expression.")
    stdin: Text | None = Field(None, description="A program case: the text fed to its standard input (default empty).")
    stdout: Text | None = Field(None, description="A program case: the standard output expected (see `compare`).")

    @model_validator(mode="before")
    @classmethod
    def _one_kind(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data  # the model's own error
        program = "stdin" in data or "stdout" in data
        if program and ("input" in data or "output" in data):
            raise ValueError("a case is either a function call ({input, output}) or a program run "
                             "({stdin, stdout}), not both")
        needed = ("stdout",) if program else ("input", "output")
        missing = [name for name in needed if data.get(name) is None]
        if missing:  # as a missing required field is reported, under the field's own name
            raise ValidationError.from_exception_data(
                cls.__name__, [InitErrorDetails(type="missing", loc=(name,), input=data) for name in missing])
        return data

    @property
    def is_program(self) -> bool:
        return self.stdout is not None


Compare = Literal["exact", "lines", "tokens", "float"]
MAIN_FILE_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$"
PROGRAM_ONLY = ("cmd", "compile", "main_file", "compare", "rel_tol", "abs_tol")
DEFAULT_MAIN_FILE = "main.py"
DEFAULT_COMPARE: Compare = "lines"
DEFAULT_REL_TOL = 1e-6
DEFAULT_ABS_TOL = 1e-6
Isolation = Literal["request", "case"]
DEFAULT_ISOLATION: Isolation = "request"
JudgeFile = Annotated[Text, Field(pattern=MAIN_FILE_PATTERN)]


class Judge(_Model):
    """The grader's own program that decides a case (docs/api.md §4.3): a `checker` run
    after each case, in a sandboxed process of its own, never in the solution's, which
    never sees it nor the expected output. One of two forms: `code` (Python) or `cmd` (any
    language, in testlib's protocol)."""

    code: Text | None = Field(
        None, description="Python source defining `check(input, expected, output)`, which returns True/False, a "
                          "score in [0, 1], or `(verdict_or_score, message)`.")
    cmd: Command | None = Field(
        None, description="A command run with `/bin/sh -c` in the checker's own directory as "
                          "`<cmd> <input_file> <output_file> <answer_file>`; testlib's exit statuses: 0 accepted, "
                          "1 wrong answer, 2 presentation error, 3 checker failure, 7 points (stderr `points <p> ...`, "
                          "p in [0, 1]); its stderr is the message.")
    compile: Command | None = Field(
        None, description="With `cmd`: a command run once per request, before the first case, in the checker's "
                          "directory (e.g. `gcc -O2 -o check check.c`).")
    files: dict[JudgeFile, Text] | None = Field(
        None, description="Files saved in the checker's directory before anything runs (its source, a header such "
                          "as testlib.h, data), by name: 1-64 characters of [A-Za-z0-9._-]. The solution never "
                          "sees them.")
    timeout: Seconds | None = Field(None, description="Wall-clock and CPU limit of each run of the checker, and of "
                                                      "its compile step (s).")

    @field_validator("timeout")
    @classmethod
    def _maxima(cls, v: Any, info: ValidationInfo) -> Any:
        return _check_maximum(v, info, "judge")

    @model_validator(mode="after")
    def _one_form(self, info: ValidationInfo) -> Judge:
        if (self.code is None) == (self.cmd is None):
            raise ValueError("give exactly one of code (Python source defining check(input, expected, output)) "
                             "and cmd (a command in testlib's protocol)")
        if self.compile is not None and self.cmd is None:
            raise ValueError("compile goes with cmd: Python code needs no compile step")
        files = self.files or {}
        if len(files) > limits.MAX_JUDGE_FILES:
            raise ValueError(f"files: at most {limits.MAX_JUDGE_FILES} files")
        size = len(self.code or "") + sum(len(name) + len(text) for name, text in files.items())
        limits.check_size("judge", "code", size, (info.context or {}).get("config"))
        return self


class EvaluateRequest(_Model):
    id: SessionId
    code: Text
    entry_point: Text | None = Field(
        None, description="An expression naming the callable: `add`, `Solution().twoSum`. Required for "
                          "function-call cases; not used by program cases.")
    io_cases: list[IOCase] = Field(
        default_factory=list, description="The cases. Required unless `tests` is given.")
    tests: Text | None = Field(
        None, description="Test-code mode: Python source whose tests run against `code`, each a case after "
                          "the io_cases: top-level asserts (one case each), a `check(candidate)` function "
                          "called with the entry point, or `unittest.TestCase` classes (one case per test "
                          "method). The tests run in a process of their own: names they use and do not "
                          "define are the solution's globals, values cross as builtin values.")
    timeout: Seconds | None = Field(None, description="Wall-clock limit per case (s).")
    cpu_limit: Seconds | None = Field(None, description="CPU limit per case (s).")
    memory_limit_mb: int | None = Field(None, gt=0, description="Memory limit per case (MiB).")
    float_tolerance: float | None = Field(
        None, ge=0, le=1, allow_inf_nan=False,
        description="Compare floats with `math.isclose`, this value as both the relative and the absolute "
                    "tolerance, through lists, tuples and dict values (e.g. `1e-6`); default exact `==`. "
                    "Function-call cases only.")
    stop_on_first_failure: bool = Field(
        False, description="Run no case after the first one that does not pass; those get status `skipped`.")
    isolation: Isolation | None = Field(
        None, description=f"Function-call cases and tests: `request` (the default, `{DEFAULT_ISOLATION}`): the "
                          "cases run one after another in one process, each in fresh globals (the module "
                          "level runs again); a case that crashes, hangs, runs out of memory or CPU, exits "
                          "or leaves a thread or process running ends that process, and the next case gets "
                          "a new one. `case`: every case in a process of its own, forked after the module "
                          "level ran once. Limits are per case in both. Program cases always run one "
                          "process per case.")
    cmd: Command | None = Field(
        None, description="Program cases: the command each case runs with `/bin/sh -c` in the session "
                          "directory; `code` is saved read-only at `$PROGRAM` (`/program/<main_file>`). "
                          "Default: run `code` with the sandbox's Python.")
    compile: Command | None = Field(
        None, description="Program cases: a command run once, with `/bin/sh -c` in the session directory, "
                          "before the cases; if it fails every case fails with its output.")
    main_file: Annotated[Text, Field(pattern=MAIN_FILE_PATTERN)] | None = Field(
        None, description=f"Program cases: the file name `code` is saved under (default `{DEFAULT_MAIN_FILE}`), e.g. "
                          "`main.pl` or `main.c` for a compiler that goes by the extension.")
    compare: Compare | None = Field(
        None, description="Program cases: how stdout is compared with the expected `stdout`: `exact`, "
                          "`lines` (the default: trailing whitespace of each line and trailing empty lines "
                          "ignored), `tokens` (whitespace-separated words), `float` (tokens; numbers within "
                          "`rel_tol`/`abs_tol`).")
    rel_tol: float | None = Field(
        None, ge=0, le=1, allow_inf_nan=False,
        description=f"`compare: float`: the relative tolerance (default {DEFAULT_REL_TOL}).")
    abs_tol: float | None = Field(
        None, ge=0, allow_inf_nan=False,
        description=f"`compare: float`: the absolute tolerance (default {DEFAULT_ABS_TOL}).")
    checker: Judge | None = Field(
        None, description="A checker (special judge) that decides each case instead of comparing with the expected "
                          "output: program cases and function-call cases; not with `compare`, `rel_tol`, `abs_tol`, "
                          "`float_tolerance` or `tests`.")
    interactor: Judge | None = Field(
        None, description="Interactive program cases (docs/api.md §4.4): Python `code` defining "
                          "`interact(input, answer, receive, send)`, or a program built by `compile` from `files` run "
                          "as `<cmd> <input_file> <output_file> <answer_file>` in testlib's protocol; it runs beside "
                          "the program for each case, its output the program's input and the program's output its "
                          "input, and decides the verdict. Program cases only; not with `checker`, `compare`, "
                          "`rel_tol`, `abs_tol`.")

    @property
    def is_program(self) -> bool:
        """Program cases (stdin/stdout); with no case at all, when a program field is given."""
        if self.io_cases:
            return self.io_cases[0].is_program
        return self.cmd is not None or self.compile is not None

    _test_plan: tuple[testplan.PlannedTest, ...] = PrivateAttr(default=())

    @property
    def test_plan(self) -> tuple[testplan.PlannedTest, ...]:
        """The tests planned in `tests` (`protocol.testplan`), in the order they run."""
        return self._test_plan

    @model_validator(mode="before")
    @classmethod
    def _cases_or_tests(cls, data: Any) -> Any:
        if isinstance(data, dict) and "io_cases" not in data and data.get("tests") is None:
            # as a missing required field is reported: io_cases is required without tests
            raise ValidationError.from_exception_data(
                cls.__name__, [InitErrorDetails(type="missing", loc=("io_cases",), input=data)])
        return data

    @model_validator(mode="after")
    def _plan_tests(self, info: ValidationInfo) -> EvaluateRequest:
        if self.tests is None:
            return self
        if self.is_program:
            raise ValueError("tests run against a function's globals: they cannot be combined with "
                             "program cases ({stdin, stdout}) or cmd/compile")
        try:
            self._test_plan = tuple(testplan.plan(self.tests, self.entry_point))
        except testplan.InvalidTests as exc:
            raise ValueError(str(exc)) from None
        limits.check("evaluate", "io_cases", [*self.io_cases, *self._test_plan], (info.context or {}).get("config"))
        return self

    @model_validator(mode="after")
    def _one_kind(self) -> EvaluateRequest:
        kinds = {case.is_program for case in self.io_cases}
        if len(kinds) > 1:
            raise ValueError("io_cases mixes function-call cases ({input, output}) and program cases "
                             "({stdin, stdout}); one request holds one kind")
        if self.checker is not None:
            self._check_checker()
        if self.interactor is not None:
            self._check_interactor()
        if self.is_program:
            if self.float_tolerance is not None:
                raise ValueError("float_tolerance is for function-call cases; program cases use "
                                 "compare: float with rel_tol and abs_tol")
            if self.isolation is not None:
                raise ValueError("isolation is for function-call cases and tests; each program case "
                                 "({stdin, stdout}) always runs in a process of its own: leave it out")
            if (self.rel_tol is not None or self.abs_tol is not None) and self.compare != "float":
                raise ValueError("rel_tol and abs_tol apply to compare: float only")
            return self
        if self.entry_point is None and (self.io_cases or self.tests is None):
            raise ValueError("entry_point is required for function-call cases ({input, output})")
        given = [name for name in PROGRAM_ONLY if getattr(self, name) is not None]
        if given:
            raise ValueError(f"{', '.join(given)}: for program cases ({{stdin, stdout}}) only")
        return self
    def _check_checker(self) -> None:
        """A checker decides the cases alone: nothing else may claim to compare them."""
        given = [name for name in ("compare", "rel_tol", "abs_tol", "float_tolerance")
                 if getattr(self, name) is not None]
        if given:
            raise ValueError(f"{', '.join(given)}: a checker decides each case itself; leave "
                             f"{'it' if len(given) == 1 else 'them'} out, or drop the checker")
        if self.tests is not None:
            raise ValueError("a checker judges io_cases; tests judge themselves by their asserts: use one or the other")

    def _check_interactor(self) -> None:
        """An interactor talks to a program and decides alone."""
        if not self.is_program or self.tests is not None:
            raise ValueError("an interactor talks to a program: it needs program cases ({stdin, stdout}), not "
                             "function-call cases or tests")
        if self.checker is not None:
            raise ValueError("an interactor decides each case itself: it cannot be combined with a checker")
        given = [name for name in ("compare", "rel_tol", "abs_tol") if getattr(self, name) is not None]
        if given:
            raise ValueError(f"{', '.join(given)}: an interactor decides each case itself; leave "
                             f"{'it' if len(given) == 1 else 'them'} out")
        interactor = self.interactor
        assert interactor is not None  # noqa: S101 - called only with an interactor
        if interactor.code is not None and interactor.files:
            raise ValueError("an interactor's code comes alone: files are for an interactor built by compile (cmd)")
        if interactor.cmd is not None:
            try:
                argv = shlex.split(interactor.cmd)
            except ValueError as exc:
                raise ValueError(f"interactor.cmd: {exc}") from None
            if not argv or argv[0].startswith("/") or "$" in interactor.cmd:
                raise ValueError("interactor.cmd is a program of the interactor's own directory and its arguments, "
                                 "run without a shell (e.g. `./interactor`): a program the sandbox user cannot "
                                 "read, so that the program beside it cannot read it either")

    require_session: bool = Field(
        False, description="Answer 404 when the session does not exist instead of using a scratch directory.")

    @field_validator("timeout", "cpu_limit", "memory_limit_mb", "io_cases", "tests")
    @classmethod
    def _maxima(cls, v: Any, info: ValidationInfo) -> Any:
        # `tests` is measured here, before `_plan_tests` parses it (after the fields).
        return _check_maximum(v, info, "evaluate")


CaseStatus = Literal["passed", "failed", "error", "timeout", "memory", "output_limit", "crashed", "skipped"]


class CaseResult(_Model):
    case: int
    input: str
    passed: bool
    got: Any = None
    expected: Any = None
    error: str | None = None
    status: CaseStatus
    stdout: str = ""
    stderr: str | None = Field(None, description="Program cases: what the program wrote to stderr (capped).")
    duration_ms: float = 0.0
    cpu_ms: float | None = Field(None, description="CPU time the case's processes used (ms).")
    peak_memory_kb: int | None = Field(None, description="Peak resident memory of the case's process (KiB).")
    score: float = Field(0.0, ge=0, le=1, description=(
        "The case's credit in [0, 1]: 1.0 when it passed, else 0.0 (a skipped case too), unless a checker "
        "gave it a score of its own."))


class EvaluateReply(_Model):
    passed: bool
    case_results: list[CaseResult]
    error: str | None = None
    score: float = Field(0.0, ge=0, le=1, description=(
        "The mean of the cases' `score` (skipped cases count 0); 0.0 when there is no case. Usable as a "
        "reward as it is."))
    passed_count: int = Field(0, ge=0, description="How many cases passed.")


# --- commands --------------------------------------------------------------------------

class RunRequest(_Model):
    id: SessionId
    cmd: Command = Field(description=(
        f"Run with `/bin/sh -c` in the session directory; at most {limits.MAX_ARGUMENT_BYTES} bytes of UTF-8 "
        "(one exec argument)."))
    stdin: Text | None = Field(None, description="Text fed to the command's standard input.")
    timeout: Seconds | None = Field(None, description="Wall-clock limit (s).")

    @field_validator("timeout")
    @classmethod
    def _maxima(cls, v: Any, info: ValidationInfo) -> Any:
        return _check_maximum(v, info, "run")


class RunReply(_Model):
    stdout: str
    stderr: str
    id: str
    exit_code: int
    timed_out: bool
    truncated: bool
    duration_ms: float
    cpu_ms: float | None = Field(None, description="CPU time the command's main process used (ms).")
    peak_memory_kb: int | None = Field(None, description="Peak resident memory of the command's main process (KiB).")


# --- files -----------------------------------------------------------------------------

class ReadFileRequest(_Model):
    id: SessionId
    rel_path: RelPath
    encoding: Encoding = "utf-8"


class ReadFileReply(_Model):
    content: str
    id: str
    rel_path: str


class WriteFileRequest(_Model):
    id: SessionId
    rel_path: RelPath
    content: Text
    encoding: Encoding = "utf-8"


class SuccessReply(_Model):
    success: bool
    id: str
    rel_path: str


class DeleteFileRequest(_Model):
    id: SessionId
    rel_path: RelPath


class RenameFileRequest(_Model):
    id: SessionId
    old_path: RelPath
    new_path: RelPath


class RenameFileReply(_Model):
    success: bool
    id: str
    old_path: str
    new_path: str


# --- sessions --------------------------------------------------------------------------

class ForkSessionRequest(_Model):
    id: SessionId
    new_id: SessionId | None = Field(None, description=(
        "Set by the web tier, whatever a client sends: the copy's id, a new UUID4 that routes to the "
        "source's supervisor (`protocol/routing.py`)."))


class ForkSessionReply(_Model):
    new_id: str
    skipped: list[str] = Field([], description=(
        "Entries the fork could not copy (sockets, device nodes), by path; at most the first 1000."))
    skipped_count: int = Field(0, description="How many entries were skipped in all.")


class CreateSessionRequest(_Model):
    id: SessionId | None = Field(None, description="Omit to get a new UUID4.")


class SessionReply(_Model):
    id: str


class DeleteSessionRequest(_Model):
    id: SessionId


class DeleteSessionReply(_Model):
    success: bool
    id: str


class ListFilesRequest(_Model):
    id: SessionId


class FileEntry(_Model):
    path: str = Field(description=(
        "The path relative to the session. A name that is not UTF-8 is shown with each undecodable "
        "byte as `\\xNN` and the entry has `undecodable: true`."))
    size: int
    kind: Literal["file", "dir", "symlink"] = Field(description="FIFOs and sockets are listed as `file`.")
    undecodable: bool = Field(False, description=(
        "Present (true) when the name is not UTF-8: `path` is then an escaped rendering that the file "
        "operations cannot name; use `/run` to rename such a file."))


MAX_LISTED = 100_000  # entries in one list_files reply


class ListFilesReply(_Model):
    id: str
    files: list[FileEntry]
    truncated: bool = Field(False, description=(
        f"True when entries were left out: more than {MAX_LISTED:,} of them, or directories nested too deep "
        "to walk."))


class StatusRequest(_Model):
    pass


class StatusReply(_Model):
    ready: bool
    detail: str | None = Field(None, description="Why it is not ready (null when ready).")
    isolation: str
    limits_mode: str
    idle: int
    busy: int
    queued: int
    counters: dict[str, int] = {}


# --- batches ---------------------------------------------------------------------------

class EvaluateBatchRequest(_Model):
    """Many `/evaluate_code` bodies in one request, run side by side across the sandbox pool and
    answered in submission order; one submission's failure never fails the others."""

    submissions: list[EvaluateRequest] = Field(
        min_length=1, description="Each an `/evaluate_code` body, validated as one (errors are located as "
                                  "`submissions.<index>.<field>`).")

    @field_validator("submissions", mode="before")
    @classmethod
    def _maxima(cls, v: Any, info: ValidationInfo) -> Any:
        # Before the items are validated: an oversized batch is refused without reading it.
        return _check_maximum(v, info, "evaluate_batch") if isinstance(v, list) else v


class BatchEvaluated(EvaluateReply):
    status: Literal[200] = Field(200, description="The submission ran: its `/evaluate_code` reply follows.")


class BatchFailed(_Model):
    status: int = Field(description=(
        "The status `/evaluate_code` would have answered for this submission: 503 not executed (retry it), "
        "504 outcome unknown (it may have run), 404, 500."))
    detail: Any = Field(description="Why, as in the `detail` of that error response.")


class EvaluateBatchReply(_Model):
    results: list[BatchEvaluated | BatchFailed] = Field(description="One per submission, in submission order.")


# The operations the supervisor answers: wire name -> (request model, reply model).
OPERATIONS: dict[str, tuple[type[_Model], type[_Model]]] = {
    "evaluate": (EvaluateRequest, EvaluateReply),
    "run": (RunRequest, RunReply),
    "read_file": (ReadFileRequest, ReadFileReply),
    "write_file": (WriteFileRequest, SuccessReply),
    "delete_file": (DeleteFileRequest, SuccessReply),
    "rename_file": (RenameFileRequest, RenameFileReply),
    "fork_session": (ForkSessionRequest, ForkSessionReply),
    "create_session": (CreateSessionRequest, SessionReply),
    "delete_session": (DeleteSessionRequest, DeleteSessionReply),
    "list_files": (ListFilesRequest, ListFilesReply),
    "status": (StatusRequest, StatusReply),
    "evaluate_batch": (EvaluateBatchRequest, EvaluateBatchReply),
}
# Operations that change nothing: one whose supervisor went away before answering is as
# good as not executed (503, retry), not an outcome to doubt (504).
READ_ONLY_OPERATIONS = frozenset({"read_file", "list_files", "status"})


def _guards(schema: dict[str, Any]) -> bool:
    function = schema.get("function", {}).get("function") if schema.get("type") == "function-after" else None
    return function is _unicode_text


def unchecked_strings(schema: Any, checked: bool = False) -> list[dict[str, Any]]:
    """The `str` schemas in a pydantic core schema that `_unicode_text` does not guard.

    Walks the whole schema (fields, lists, unions, nested models), so a string anywhere
    in a request is found, however deeply it is declared.
    """
    if isinstance(schema, list):
        return [found for item in schema for found in unchecked_strings(item, checked)]
    if not isinstance(schema, dict):
        return []
    if schema.get("type") == "str":
        return [] if checked else [schema]
    if schema.get("type") == "function-after":
        return unchecked_strings(schema.get("schema"), checked or _guards(schema))
    if schema.get("type") == "chain":  # each step validates what the step before returned
        found = []
        for step in schema.get("steps", []):
            found += unchecked_strings(step, checked)
            checked = checked or _guards(step)
        return found
    return [found for value in schema.values() for found in unchecked_strings(value, checked)]


def check_request_strings() -> None:
    """Refuse to load a request model whose string fields skip the Unicode rule.

    Raises:
        TypeError: naming the model, so a field declared as plain `str` is caught at once.
    """
    for name, (request_model, _) in OPERATIONS.items():
        if unchecked_strings(request_model.__pydantic_core_schema__):
            raise TypeError(f"{request_model.__name__} ({name}) has a string field that is not `Text`")


check_request_strings()
