"""The service scenarios: what one operation sends and how its answer is checked.

Each scenario turns a client's session into an operation; the load driver calls it over
and over. Sessions are created before the clock starts (one per client thread), so the
figures measure the operation itself, not session creation.
"""

from __future__ import annotations

import functools
import itertools
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from bench.answers import WrongAnswer, expect_equal
from bench.answers import field as reply_field
from bench.api import ApiClient, HttpError
from bench.humaneval import humaneval_problems, humaneval_test_problems
from bench.load import Budget, run_load
from bench.problems import (
    Problem,
    add_problem,
    batch_problems,
    check_evaluation,
    imports_problem,
    program_problem,
)
from bench.stats import RunResult

#: Small files put in every session of the ``fork`` scenario.
FORK_FILES = 10

#: Parallel requests used to create and delete sessions outside the measured period.
HOUSEKEEPING_THREADS = 4

#: Client threads of the one-pass scenarios (``humaneval``): one request per problem.
ONE_PASS_CONCURRENCY = 8

#: Path of the file the ``write_read`` scenario writes and reads back.
SMALL_FILE = "bench/small.txt"

Parts = Mapping[str, float] | None
Op = Callable[[ApiClient], Parts]


@dataclass(frozen=True)
class Target:
    """Where the service is and how to talk to it.

    Attributes:
        base_url: ``http://127.0.0.1:PORT`` of the service.
        token: Bearer token, when the service requires one.
        http_timeout: Seconds one request may take before it counts as an error.
    """

    base_url: str
    token: str | None
    http_timeout: float

    def client(self) -> ApiClient:
        """Returns a new client with its own connection pool."""
        return ApiClient(self.base_url, self.token, self.http_timeout)


def small_file(client: int, counter: int) -> str:
    """Returns the content of the small file that ``write_read`` writes.

    The echo baseline sends the same bytes; the content is unique per write, so a stale
    read shows.
    """
    return f"client {client} write {counter}\n" + "abcdefgh" * 8 + "\n"


@dataclass
class SessionPool:
    """Sessions created up front, one per client, reused across concurrency levels.

    Attributes:
        target: The service.
        prefix: Start of every id, unique to this run, so runs never share sessions.
        files: Number of small files put in each new session.
        ids: The client sessions, index = client number.
        extra: Further sessions to delete at the end (the ones ``fork`` creates).
    """

    target: Target
    prefix: str
    files: int = 0
    ids: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)

    def ensure(self, count: int) -> None:
        """Creates sessions until there are ``count`` of them."""
        new = [f"{self.prefix}-{index}" for index in range(len(self.ids), count)]
        with ThreadPoolExecutor(HOUSEKEEPING_THREADS) as pool:
            list(pool.map(self._create, new))
        self.ids.extend(new)

    def _create(self, session_id: str) -> None:
        """Creates one session, by ``/create_session`` or, failing that, a first write."""
        api = self.target.client()
        try:
            try:
                api.post("/create_session", {"id": session_id})
            except HttpError as error:
                if error.status not in (404, 405):
                    raise
                api.post("/write_file", {"id": session_id, "rel_path": ".bench", "content": ""})
            for number in range(self.files):
                body = {"id": session_id, "rel_path": f"data/file{number}.txt",
                        "content": f"file {number} of {session_id}\n"}
                api.post("/write_file", body)
        finally:
            api.close()

    def delete_all(self) -> int:
        """Deletes every session this pool made; returns how many deletions failed.

        Failures are counted, not raised: cleaning up must not hide the run's results.
        """
        doomed = self.ids + self.extra
        with ThreadPoolExecutor(HOUSEKEEPING_THREADS) as pool:
            failures = sum(not ok for ok in pool.map(self._delete, doomed))
        self.ids, self.extra = [], []
        return failures

    def _delete(self, session_id: str) -> bool:
        """Deletes one session; ``True`` on success or if it was already gone."""
        api = self.target.client()
        try:
            api.post("/delete_session", {"id": session_id})
            return True
        except HttpError as error:
            return error.status == 404
        except Exception:  # noqa: BLE001 - see delete_all
            return False
        finally:
            api.close()


@dataclass
class HttpWorker:
    """A load-driver worker: one client's operation and its private HTTP session."""

    api: ApiClient
    op: Op

    def __call__(self) -> Parts:
        """Performs the operation once."""
        return self.op(self.api)

    def close(self) -> None:
        """Closes the client's connections."""
        self.api.close()


class ProblemFeed:
    """Hands out each problem of a one-pass scenario exactly once, to whichever client asks.

    Shared by the client threads of one run, so the set is evaluated once in all, however
    the work happens to spread over the threads.
    """

    def __init__(self, problems: Sequence[Problem]) -> None:
        self._problems = iter(problems)
        self._lock = threading.Lock()

    def take(self) -> Problem:
        """Returns the next problem.

        Raises:
            StopIteration: If every problem has been handed out.
        """
        with self._lock:
            return next(self._problems)


@dataclass(frozen=True)
class OpContext:
    """What an operation is built from.

    Attributes:
        session_id: The client's own session.
        client: The client's number (0-based).
        pool: The session pool, to hand over sessions the operation creates.
        feed: The shared problems of a one-pass scenario, else ``None``.
    """

    session_id: str
    client: int
    pool: SessionPool
    feed: ProblemFeed | None = None


def _evaluate(problems: list[Problem]) -> Callable[[OpContext], Op]:
    """Returns an op factory sending ``problems`` in turn.

    Each client starts from its own offset, so concurrent clients do not all hit the slow
    (looping) problems at once.
    """

    def build(context: OpContext) -> Op:
        order: Iterator[Problem] = itertools.islice(
            itertools.cycle(problems), (context.client * 7) % len(problems), None
        )

        def op(api: ApiClient) -> Parts:
            problem = next(order)
            check_evaluation(api.post("/evaluate_code", problem.request(context.session_id)),
                             problem)
            return None

        return op

    return build


def _evaluate_feed(context: OpContext) -> Op:
    """Returns an op evaluating the next problem of the run's shared feed."""
    feed = context.feed
    if feed is None:
        raise ValueError("a one-pass scenario needs a problem feed")

    def op(api: ApiClient) -> Parts:
        problem = feed.take()
        check_evaluation(api.post("/evaluate_code", problem.request(context.session_id)),
                         problem)
        return None

    return op


def _run(cmd: str, stdout: str | None) -> Callable[[OpContext], Op]:
    """Returns an op factory running ``cmd`` and expecting exit 0 (and ``stdout`` if set)."""

    def build(context: OpContext) -> Op:
        def op(api: ApiClient) -> Parts:
            reply = api.post("/run", {"id": context.session_id, "cmd": cmd})
            expect_equal(f"exit_code of {cmd!r}", reply_field(reply, "exit_code"), 0)
            if stdout is not None:
                expect_equal(f"stdout of {cmd!r}", reply_field(reply, "stdout"), stdout)
            return None

        return op

    return build


def _write_read(context: OpContext) -> Op:
    """Writes a small file, reads it back and checks the round trip.

    Both halves are timed, since the web-tier target concerns the write alone.
    """
    counter = itertools.count()

    def op(api: ApiClient) -> Parts:
        content = small_file(context.client, next(counter))
        started = time.perf_counter()
        body = {"id": context.session_id, "rel_path": SMALL_FILE, "content": content}
        expect_equal("write_file success", reply_field(api.post("/write_file", body), "success"),
                     True)
        written = time.perf_counter()
        reply = api.get("/read_file", {"id": context.session_id, "rel_path": SMALL_FILE})
        expect_equal("read_file content", reply_field(reply, "content"), content)
        return {"write_file": written - started, "read_file": time.perf_counter() - written}

    return op


def _fork(context: OpContext) -> Op:
    """Forks the client's session (prepared with small files).

    The new id is kept for deletion at the end.
    """

    def op(api: ApiClient) -> Parts:
        new_id: Any = reply_field(api.post("/fork_session", {"id": context.session_id}),
                                  "new_id")
        if not isinstance(new_id, str) or not new_id or new_id == context.session_id:
            raise WrongAnswer(f"fork_session: bad new_id {new_id!r}")
        context.pool.extra.append(new_id)  # list.append is atomic under the GIL
        return None

    return op


@dataclass(frozen=True)
class Scenario:
    """A named operation against the service.

    Attributes:
        name: Name used on the command line and in the report.
        summary: One line saying what an operation is.
        build: Makes a client's operation from its context.
        files: Small files each session must hold before the run.
        one_pass: For a scenario whose figure is the wall time of evaluating a fixed set
            once (``humaneval``): returns that set. Such a scenario runs once, at
            ``ONE_PASS_CONCURRENCY``, without warm-up, one request per problem.
        cases: Cases per operation of an evaluation scenario of one fixed problem (the
            per-case CPU is computed from two such scenarios); 0 for the others.
    """

    name: str
    summary: str
    build: Callable[[OpContext], Op]
    files: int = 0
    one_pass: Callable[[], list[Problem]] | None = None
    cases: int = 0


def _fixed(name: str, summary: str, problem: Problem) -> Scenario:
    """An evaluation scenario sending one problem over and over."""
    return Scenario(name, summary, _evaluate([problem]), cases=len(problem.cases))


def _case_isolation(problem: Problem) -> Problem:
    """The ``isolation: "case"`` form of a problem: every case in its own process."""
    return replace(problem, isolation="case")


SCENARIOS: dict[str, Scenario] = {
    scenario.name: scenario
    for scenario in (
        _fixed("eval1", "evaluate_code: add, 1 case", add_problem(1)),
        _fixed("eval10", "evaluate_code: add, 10 cases", add_problem(10)),
        _fixed("eval10_imports", "evaluate_code: add after 6 stdlib imports, 10 cases",
               imports_problem(10)),
        _fixed("eval1_case", "evaluate_code: add, 1 case, isolation case",
               _case_isolation(add_problem(1))),
        _fixed("eval10_case", "evaluate_code: add, 10 cases, isolation case",
               _case_isolation(add_problem(10))),
        _fixed("program1", "evaluate_code: a stdin/stdout Python program (a+b), 1 case",
               program_problem(1)),
        _fixed("program10", "evaluate_code: a stdin/stdout Python program (a+b), 10 cases",
               program_problem(10)),
        Scenario("humaneval", "evaluate_code: every convertible HumanEval problem once, "
                 f"{ONE_PASS_CONCURRENCY} clients", _evaluate_feed,
                 one_pass=functools.cache(humaneval_problems)),
        Scenario("humaneval_tests", "evaluate_code: every HumanEval problem once in test-code "
                 f"mode (tests = its check), {ONE_PASS_CONCURRENCY} clients", _evaluate_feed,
                 one_pass=functools.cache(humaneval_test_problems)),
        Scenario("batch", "evaluate_code: 100 problems x 10 cases, some fail/raise/loop",
                 _evaluate(batch_problems())),
        Scenario("run_py", "run: python3 -c pass", _run("python3 -c pass", None)),
        Scenario("run_echo", "run: echo hi", _run("echo hi", "hi\n")),
        Scenario("write_read", "write_file + read_file of a small file (one pair)",
                 _write_read),
        Scenario("fork", f"fork_session of a session with {FORK_FILES} small files", _fork,
                 files=FORK_FILES),
    )
}


def cycled(scenario: Scenario) -> Scenario:
    """A one-pass scenario's problems sent over and over, like a fixed scenario's (so
    ``cpu_split`` can measure the mix sequentially); any other scenario as it is."""
    if scenario.one_pass is None:
        return scenario
    return Scenario(scenario.name, scenario.summary + ", in turn", _evaluate(scenario.one_pass()))


def measure(
    scenario: Scenario,
    pool: SessionPool,
    concurrencies: list[int],
    budget: Budget,
    on_result: Callable[[RunResult], None],
    prefix: str = "",
    kind: str = "service",
) -> list[RunResult]:
    """Runs one scenario at each concurrency, creating the sessions it needs first.

    The same code drives the service and the ``pool`` baseline (whose runs get the name
    ``prefix + scenario.name`` and kind ``baseline``), so both are asked and checked alike.

    Args:
        scenario: What to run.
        pool: Sessions to use; must hold ``scenario.files`` files each.
        concurrencies: Client thread counts, measured in this order (a one-pass scenario
            ignores them and runs once at ``ONE_PASS_CONCURRENCY``).
        budget: Limits of each run.
        on_result: Called with each result as soon as it is known (progress output).
        prefix: Put before the scenario's name in the results.
        kind: ``service`` or ``baseline``.
    """
    name = prefix + scenario.name
    if scenario.one_pass is not None:
        result = _measure_one_pass(scenario, scenario.one_pass(), pool, budget, name, kind)
        on_result(result)
        return [result]
    pool.ensure(max(concurrencies))
    results = []
    for concurrency in concurrencies:

        def make_worker(index: int) -> HttpWorker:
            context = OpContext(pool.ids[index], index, pool)
            return HttpWorker(pool.target.client(), scenario.build(context))

        result = run_load(name, kind, make_worker, concurrency, budget)
        on_result(result)
        results.append(result)
    return results


def _measure_one_pass(
    scenario: Scenario, problems: list[Problem], pool: SessionPool, budget: Budget, name: str,
    kind: str,
) -> RunResult:
    """Evaluates every problem once; the run's wall time is the scenario's figure.

    A problem that was not evaluated (the run hit ``--max-seconds``) counts as an error,
    so a cut-short pass can never look fast.
    """
    pool.ensure(ONE_PASS_CONCURRENCY)
    feed = ProblemFeed(problems)
    one_pass = replace(budget, duration_s=None, requests=len(problems), warmup=0)

    def make_worker(index: int) -> HttpWorker:
        context = OpContext(pool.ids[index], index, pool, feed)
        return HttpWorker(pool.target.client(), scenario.build(context))

    result = run_load(name, kind, make_worker, ONE_PASS_CONCURRENCY, one_pass)
    missing = len(problems) - result.ok - result.errors
    if missing > 0:
        result.errors += missing
        result.error_samples.append(f"{missing} of {len(problems)} problems not evaluated "
                                    "within --max-seconds")
    return result


def sandbox_python(target: Target, session_id: str) -> str | None:
    """Asks the service which ``python3`` a command in the sandbox runs.

    The bare-interpreter baseline should start the very binary ``run_py`` starts, or the
    ratio compares two different interpreters.

    Returns:
        The path, or ``None`` if the service could not tell.
    """
    api = target.client()
    try:
        reply = api.post("/run", {"id": session_id, "cmd": "command -v python3"})
        path = str(reply.get("stdout", "")).strip()
        return path if reply.get("exit_code") == 0 and path.startswith("/") else None
    except Exception:  # noqa: BLE001 - the caller falls back to the host's python3
        return None
    finally:
        api.close()
