"""The evaluation problems the scenarios send, each with the answer it must get.

Generated deterministically (no randomness) so two runs send exactly the same work and
their figures can be compared. Each problem carries the status every case must end with,
which is how a wrong answer from the service is told apart from a right one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from bench.answers import WrongAnswer, expect_equal, field

ADD_CODE = "def add(a, b):\n    return a + b"

#: The ``program10`` program: a Python program reading two integers from stdin and
#: printing their sum, as a competitive-programming judge runs it.
SUM_PROGRAM = "a, b = map(int, input().split())\nprint(a + b)\n"

#: Module-level imports the ``eval10_imports`` solution starts with: a real solution's
#: usual preamble, which a sandbox that re-imports per case pays for in every case.
IMPORTS_LINE = "import typing, statistics, fractions, dataclasses, decimal, asyncio"

#: In the batch, every problem at these positions (modulo 10) has one case whose expected
#: value is wrong (status ``failed``) or whose input divides by zero (status ``error``).
FAILING_SLOT = 3
RAISING_SLOT = 6

#: Batch positions of the problems with one case that loops forever (status ``timeout``).
#: Few on purpose: each one burns a CPU core for the whole request timeout.
TIMEOUT_POSITIONS = frozenset({25, 75})

#: Request ``timeout`` (seconds) sent with the problems that loop, so they end quickly.
LOOP_TIMEOUT_S = 1.0

#: The case (index) in a problem that fails, raises or loops.
BAD_CASE = 4


@dataclass(frozen=True)
class Problem:
    """One ``/evaluate_code`` request and the verdicts it must receive.

    Attributes:
        code: The solution source (or the program, for program cases).
        entry_point: The expression naming the function to call; ``None`` for program
            cases, which have none.
        cases: ``[{"input": ..., "output": ...}]`` (function calls) or
            ``[{"stdin": ..., "stdout": ...}]`` (program runs), as the API takes them.
        statuses: The expected ``status`` of each case, in order (the tests' cases
            included: in test-code mode they follow the io cases).
        timeout: The request's ``timeout`` field in seconds, or ``None`` to leave it out.
        tests: Test-code mode's ``tests`` source, or ``None``.
        isolation: The request's ``isolation`` field, or ``None`` for the default.
    """

    code: str
    entry_point: str | None
    cases: tuple[dict[str, str], ...]
    statuses: tuple[str, ...]
    timeout: float | None = None
    tests: str | None = None
    isolation: str | None = None

    @property
    def passes(self) -> bool:
        """Whether the top-level ``passed`` must be true."""
        return all(status == "passed" for status in self.statuses)

    def request(self, session_id: str) -> dict[str, Any]:
        """Returns the JSON body of the ``/evaluate_code`` request for this problem."""
        body: dict[str, Any] = {"id": session_id, "code": self.code}
        if self.entry_point is not None:
            body["entry_point"] = self.entry_point
        if self.cases or self.tests is None:
            body["io_cases"] = [dict(case) for case in self.cases]
        optional = {"timeout": self.timeout, "tests": self.tests, "isolation": self.isolation}
        body.update({key: value for key, value in optional.items() if value is not None})
        return body


def add_problem(case_count: int) -> Problem:
    """Returns the ``add`` problem of the issue with ``case_count`` passing cases.

    One case is ``1, 2`` → ``3``, as in the issue; further cases vary the arguments so the
    service cannot answer them all from one cached result.
    """
    cases = tuple(
        {"input": f"{index + 1}, {index + 2}", "output": str(2 * index + 3)}
        for index in range(case_count)
    )
    return Problem(ADD_CODE, "add", cases, ("passed",) * case_count)


def program_problem(case_count: int) -> Problem:
    """Returns the ``program10`` problem: :data:`SUM_PROGRAM` with ``case_count`` cases.

    Each case feeds two integers on stdin and expects their sum on stdout; like
    :func:`add_problem`, the numbers vary so no answer can be reused.
    """
    cases = tuple(
        {"stdin": f"{index + 1} {index + 2}\n", "stdout": f"{2 * index + 3}\n"}
        for index in range(case_count)
    )
    return Problem(SUM_PROGRAM, None, cases, ("passed",) * case_count)


def imports_problem(case_count: int) -> Problem:
    """Returns :func:`add_problem` whose code first imports a few standard modules."""
    problem = add_problem(case_count)
    return replace(problem, code=f"{IMPORTS_LINE}\n\n{problem.code}")


def _linear(position: int, cases: int, bad: str | None) -> Problem:
    """A two-argument arithmetic problem; ``bad`` is ``"failed"`` or ``None``."""
    factor, offset = position % 7 + 1, position
    code = f"def solve_{position}(x, y):\n    return x * {factor} + y - {offset}\n"
    rows = []
    for case in range(cases):
        x, y = case, case * 3 - position
        expected = x * factor + y - offset
        if bad == "failed" and case == BAD_CASE:
            expected += 1
        rows.append({"input": f"{x}, {y}", "output": str(expected)})
    return _with_statuses(code, f"solve_{position}", rows, bad)


def _listwise(position: int, cases: int, bad: str | None) -> Problem:
    """A one-list-argument problem, keyword and list inputs included."""
    factor = position % 5 + 2
    code = f"def solve_{position}(nums):\n    return [n * {factor} for n in nums if n % 2 == 0]\n"
    rows = []
    for case in range(cases):
        nums = list(range(case, case + 6))
        expected = [n * factor for n in nums if n % 2 == 0]
        if bad == "failed" and case == BAD_CASE:
            expected = expected[:-1]
        argument = f"nums={nums}" if case % 2 else str(nums)
        rows.append({"input": argument, "output": str(expected)})
    return _with_statuses(code, f"solve_{position}", rows, bad)


def _dividing(position: int, cases: int) -> Problem:
    """A problem whose ``BAD_CASE`` divides by zero (``ZeroDivisionError``)."""
    factor = position % 9 + 1
    code = f"def solve_{position}(x, y):\n    return (x * {factor}) // y\n"
    rows = []
    for case in range(cases):
        x, y = case + position, 0 if case == BAD_CASE else case - BAD_CASE
        expected = "0" if y == 0 else str((x * factor) // y)
        rows.append({"input": f"{x}, {y}", "output": expected})
    return _with_statuses(code, f"solve_{position}", rows, "error")


def _looping(position: int, cases: int) -> Problem:
    """A problem whose ``BAD_CASE`` never returns (``while True: pass``)."""
    code = (
        f"def solve_{position}(x, y):\n"
        "    if y < 0:\n"
        "        while True:\n"
        "            pass\n"
        "    return x + y\n"
    )
    rows = []
    for case in range(cases):
        y = -1 if case == BAD_CASE else case
        rows.append({"input": f"{case}, {y}", "output": str(case + y)})
    problem = _with_statuses(code, f"solve_{position}", rows, "timeout")
    return replace(problem, timeout=LOOP_TIMEOUT_S)


def _with_statuses(
    code: str, entry_point: str, rows: list[dict[str, str]], bad: str | None
) -> Problem:
    """Builds a problem whose ``BAD_CASE`` (if ``bad``) ends with status ``bad``."""
    statuses = tuple(
        bad if bad is not None and index == BAD_CASE else "passed" for index in range(len(rows))
    )
    return Problem(code, entry_point, tuple(rows), statuses)


def batch_problems(count: int = 100, cases: int = 10) -> list[Problem]:
    """Returns the ``batch`` scenario's problems: mostly passing, some failing or not.

    Some cases fail, raise or loop, so the service's error paths are timed along with
    the happy path.

    Args:
        count: Number of problems.
        cases: Cases per problem; must exceed ``BAD_CASE``.
    """
    if cases <= BAD_CASE:
        raise ValueError(f"need more than {BAD_CASE} cases per problem")
    problems = []
    for position in range(count):
        shape: Callable[[int, int, str | None], Problem] = (
            _listwise if position % 2 else _linear
        )
        if position in TIMEOUT_POSITIONS:
            problems.append(_looping(position, cases))
        elif position % 10 == RAISING_SLOT:
            problems.append(_dividing(position, cases))
        elif position % 10 == FAILING_SLOT:
            problems.append(shape(position, cases, "failed"))
        else:
            problems.append(shape(position, cases, None))
    return problems


def check_evaluation(reply: Any, problem: Problem) -> None:
    """Checks an ``/evaluate_code`` reply against the problem's expected verdicts.

    Raises:
        WrongAnswer: If ``passed``, the number of results, or any case's ``status`` or
            ``passed`` differs from what the problem expects.
    """
    expect_equal("passed", field(reply, "passed"), problem.passes)
    results = field(reply, "case_results")
    if not isinstance(results, list) or len(results) != len(problem.statuses):
        raise WrongAnswer(f"expected {len(problem.statuses)} case_results, got {results!r}"[:300])
    for index, (result, status) in enumerate(zip(results, problem.statuses, strict=True)):
        got = field(result, "status")
        if got != status:
            name = problem.entry_point or "the program"
            raise WrongAnswer(
                f"case {index} of {name}: status {got!r}, expected {status!r}"
                f" (error {str(result.get('error'))[:120]!r})"
            )
        expect_equal(f"case {index} passed", field(result, "passed"), status == "passed")
