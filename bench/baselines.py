"""The baselines the targets are stated against, measured in the same run as the service.

Absolute figures depend on the machine; ratios to these baselines mostly do not. So the
simple grader (the ``pool`` app), the naive program grader (the same app's program
cases: ``python3 main.py`` per case), the naive grader (a fresh interpreter per case),
the bare interpreter start, and the bare web tier (the echo app) are all driven by the
same load loop as the service; the ``pool`` app even by the same scenario code.
"""

from __future__ import annotations

import ast
import itertools
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from bench.answers import WrongAnswer, expect_equal
from bench.api import ApiClient
from bench.load import Budget, Worker, run_load
from bench.problems import Problem, add_problem
from bench.scenarios import SCENARIOS, SMALL_FILE, SessionPool, Target, measure, small_file
from bench.stats import RunResult

#: Seconds a naive evaluation of one case may take, as the service's default.
NAIVE_CASE_TIMEOUT_S = 5.0

#: Names accepted by ``--baselines``.
BASELINE_GROUPS = ("pool", "naive_program", "naive", "bare", "echo")

#: The scenarios the ``pool`` baseline is measured on (its runs are named ``pool_<name>``).
POOL_SCENARIOS = ("eval1", "eval10", "eval10_imports", "run_echo", "humaneval",
                  "humaneval_tests")

#: The pool run each service scenario is compared with. The pool has no isolation levels,
#: so ``eval10`` is the yardstick of ``eval10_case`` too, measured once.
POOL_YARDSTICK = {**{name: name for name in POOL_SCENARIOS},
                  "eval1_case": "eval1", "eval10_case": "eval10"}

#: Prefix of the ``pool`` baseline's run names.
POOL_PREFIX = "pool_"

#: The program scenarios the naive program grader is measured on (the pool app's program
#: cases; its runs are named ``naive_<name>``).
NAIVE_PROGRAM_SCENARIOS = ("program1", "program10")

#: Prefix of the naive program grader's run names.
NAIVE_PREFIX = "naive_"


def pool_scenarios(selected: list[str]) -> list[str]:
    """The pool scenarios that the selected service scenarios are compared with.

    With none (``--scenarios none``), all of them, so the baseline can be measured alone.
    """
    wanted = {POOL_YARDSTICK[name] for name in selected if name in POOL_YARDSTICK}
    return [name for name in POOL_SCENARIOS if name in wanted] or list(POOL_SCENARIOS)


def naive_program_scenarios(selected: list[str]) -> list[str]:
    """The program scenarios to measure the naive program grader on (all without any)."""
    return ([name for name in NAIVE_PROGRAM_SCENARIOS if name in selected]
            or list(NAIVE_PROGRAM_SCENARIOS))


def host_python(explicit: str | None, sandbox_path: str | None) -> str:
    """Chooses the interpreter the subprocess baselines start.

    In order: the one given on the command line; the one the sandbox runs, if this host
    has it; else the real binary behind ``python3`` on ``PATH`` (asked for its
    ``sys.executable``, so a wrapper script such as a pyenv shim does not inflate every
    start by tens of milliseconds).
    """
    if explicit:
        return explicit
    if sandbox_path and os.access(sandbox_path, os.X_OK):
        return sandbox_path
    found = shutil.which("python3")
    if found is None:
        return sys.executable
    reply = subprocess.run(  # noqa: S603 - a fixed, harmless program
        [found, "-c", "import sys; print(sys.executable)"],
        capture_output=True, text=True, timeout=30, check=False,
    )
    real = reply.stdout.strip()
    return real if reply.returncode == 0 and real else found


def naive_program(problem: Problem, case_input: str) -> str:
    """Returns the one-shot program a naive grader runs for one case.

    It is the solution, one call, and the ``repr`` of the result on stdout.
    """
    return (
        f"{problem.code}\n\n"
        "import sys\n"
        f"sys.stdout.write(repr({problem.entry_point}({case_input})))\n"
    )


def naive_status(python: str, problem: Problem, case: dict[str, str]) -> str:
    """Evaluates one case the way most graders do: a fresh interpreter per case.

    Returns:
        ``passed``, ``failed``, ``error`` or ``timeout``, like the service's ``status``.
    """
    timeout = problem.timeout if problem.timeout is not None else NAIVE_CASE_TIMEOUT_S
    try:
        done = subprocess.run(  # noqa: S603 - our own generated problem
            [python, "-c", naive_program(problem, case["input"])],
            capture_output=True, text=True, timeout=timeout, check=False,
        )
    except subprocess.TimeoutExpired:
        return "timeout"
    if done.returncode != 0:
        return "error"
    try:
        same = ast.literal_eval(done.stdout) == ast.literal_eval(case["output"])
    except (ValueError, SyntaxError):
        same = done.stdout == case["output"]
    return "passed" if same else "failed"


@dataclass
class NaiveEvaluator:
    """Worker evaluating one problem case by case with a fresh interpreter each."""

    python: str
    problem: Problem

    def __call__(self) -> None:
        """Evaluates every case and checks each verdict."""
        got = tuple(naive_status(self.python, self.problem, case) for case in self.problem.cases)
        expect_equal("naive statuses", got, self.problem.statuses)

    def close(self) -> None:
        """Nothing to release."""


@dataclass
class BarePython:
    """Worker starting ``python3 -c pass``: the floor for any command run per request."""

    python: str

    def __call__(self) -> None:
        """Starts the interpreter once and checks it exited 0."""
        done = subprocess.run(  # noqa: S603 - fixed program
            [self.python, "-c", "pass"], capture_output=True, timeout=30, check=False
        )
        if done.returncode != 0:
            raise WrongAnswer(f"python3 -c pass exited {done.returncode}: {done.stderr[:200]!r}")

    def close(self) -> None:
        """Nothing to release."""


@dataclass
class EchoClient:
    """Worker posting a ``write_file``-shaped body to the echo app and checking the echo."""

    api: ApiClient
    client: int

    def __post_init__(self) -> None:
        self._counter = itertools.count()

    def __call__(self) -> None:
        """Sends one body and checks it comes back unchanged."""
        body = {"id": f"echo-{self.client}", "rel_path": SMALL_FILE,
                "content": small_file(self.client, next(self._counter))}
        expect_equal("echo", self.api.post("/echo", body), body)

    def close(self) -> None:
        """Closes the client's connections."""
        self.api.close()


def _measure(
    name: str,
    make_worker: Callable[[int], Worker],
    concurrencies: list[int],
    budget: Budget,
    on_result: Callable[[RunResult], None],
) -> list[RunResult]:
    """Runs one baseline at each concurrency."""
    results = []
    for concurrency in concurrencies:
        result = run_load(name, "baseline", make_worker, concurrency, budget)
        on_result(result)
        results.append(result)
    return results


def _naive_worker(python: str, problem: Problem, _index: int) -> NaiveEvaluator:
    """Returns client ``_index``'s naive evaluator (all clients do the same work)."""
    return NaiveEvaluator(python, problem)


def measure_naive(
    python: str, concurrencies: list[int], budget: Budget, on_result: Callable[[RunResult], None]
) -> list[RunResult]:
    """Measures the naive grader on the ``eval1`` and ``eval10`` problems."""
    results = []
    for cases in (1, 10):
        problem = add_problem(cases)
        results += _measure(f"naive_eval{cases}", partial(_naive_worker, python, problem),
                            concurrencies, budget, on_result)
    return results


def measure_bare(
    python: str, concurrencies: list[int], budget: Budget, on_result: Callable[[RunResult], None]
) -> list[RunResult]:
    """Measures a bare ``python3 -c pass`` start, the yardstick of ``run_py``."""
    return _measure("bare_python", lambda _i: BarePython(python), concurrencies, budget,
                    on_result)


def measure_echo(
    echo_url: str,
    concurrencies: list[int],
    budget: Budget,
    on_result: Callable[[RunResult], None],
    http_timeout: float,
) -> list[RunResult]:
    """Measures the bare echo app, the yardstick of the web tier's own cost."""
    return _measure(
        "echo",
        lambda index: EchoClient(ApiClient(echo_url, None, http_timeout), index),
        concurrencies, budget, on_result,
    )


def measure_pool(
    pool_url: str,
    scenarios: list[str],
    concurrencies: list[int],
    budget: Budget,
    on_result: Callable[[RunResult], None],
    http_timeout: float,
    session_prefix: str,
    prefix: str = POOL_PREFIX,
) -> tuple[list[RunResult], int]:
    """Measures the simple-grader app on ``scenarios`` with the service's own scenario code.

    Returns:
        The runs (named ``<prefix><scenario>``: ``pool_eval1``, ``naive_program10``) and
        the number of session deletions that failed.
    """
    sessions = SessionPool(Target(pool_url, None, http_timeout), session_prefix)
    results: list[RunResult] = []
    try:
        for name in scenarios:
            results += measure(SCENARIOS[name], sessions, concurrencies, budget, on_result,
                               prefix=prefix, kind="baseline")
    finally:
        failures = sessions.delete_all()
    return results, failures
