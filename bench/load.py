"""Drives one operation from N client threads under a count and time budget.

Every scenario and baseline is measured by the same loop, so the service and what it is
compared with are timed the same way: each thread owns its worker (and so its own HTTP
session), a barrier starts them together, and each operation is timed around the call.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from bench.stats import RunResult, summarize_latencies

#: A thread stops after this many errors in a row: the target is down or refusing, and more
#: attempts would only slow the run down without telling anything new.
MAX_CONSECUTIVE_ERRORS = 50

#: Distinct error messages kept per run.
MAX_ERROR_SAMPLES = 5

#: Longest the threads may take to warm up before the run is abandoned.
WARMUP_TIMEOUT_S = 120.0

#: Extra seconds granted to threads to finish their last operation before they are
#: reported as stuck.
JOIN_GRACE_S = 60.0


class Worker(Protocol):
    """One client's operation; called repeatedly from a single thread."""

    def __call__(self) -> Mapping[str, float] | None:
        """Performs one operation and checks its answer.

        Returns:
            Optional timings in seconds of named sub-steps (e.g. ``{"write_file": 0.001}``).

        Raises:
            Exception: Any failure, including a wrong answer, counts as one error.
        """
        ...

    def close(self) -> None:
        """Releases what the worker holds (HTTP connections)."""
        ...


@dataclass(frozen=True)
class Budget:
    """How much work one run may do.

    Exactly one of ``duration_s`` and ``requests`` drives the run; the two caps bound it in
    any case, so a slow or broken target can never make the harness run forever.

    Attributes:
        duration_s: Seconds to keep starting operations, or ``None``.
        requests: Total operations over all threads, or ``None``.
        max_seconds: Hard cap on the time operations may be started in.
        max_ops: Hard cap on the number of operations.
        warmup: Unmeasured operations each thread performs before the clock starts, so that
            connection set-up and first-use costs do not land in the figures.
    """

    duration_s: float | None = 5.0
    requests: int | None = None
    max_seconds: float = 300.0
    max_ops: int = 1_000_000
    warmup: int = 1

    def deadline_after(self, start: float) -> float:
        """Returns the ``perf_counter`` time after which no operation may start."""
        seconds = self.max_seconds
        if self.duration_s is not None:
            seconds = min(seconds, self.duration_s)
        return start + seconds

    def op_limit(self) -> int:
        """Returns the total number of operations allowed over all threads."""
        if self.requests is not None:
            return min(self.requests, self.max_ops)
        return self.max_ops


class _Tickets:
    """A thread-safe countdown of the operations still allowed."""

    def __init__(self, limit: int) -> None:
        self._left = limit
        self._lock = threading.Lock()

    def take(self) -> bool:
        """Claims one operation; ``False`` once the budget is spent."""
        with self._lock:
            if self._left <= 0:
                return False
            self._left -= 1
            return True


@dataclass
class _ThreadLog:
    """What one thread measured.

    Merged after the threads are joined, so no lock is held while measuring.
    """

    latencies: list[float] = field(default_factory=list)
    parts: dict[str, list[float]] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)
    finished: bool = False


def _describe(error: BaseException) -> str:
    """Returns a short one-line description of an error for the report."""
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}"[:300]


def _warm_up(worker: Worker, count: int) -> None:
    """Runs unmeasured operations; their failures are ignored (the measured ones count)."""
    for _ in range(count):
        with contextlib.suppress(Exception):  # a failure will show in the measured run
            worker()


def _drive(
    worker: Worker,
    log: _ThreadLog,
    tickets: _Tickets,
    barrier: threading.Barrier,
    clock: _Clock,
    warmup: int,
) -> None:
    """The body of one client thread: warm up, wait for the others, then measure."""
    try:
        _warm_up(worker, warmup)
        try:
            barrier.wait()
        except threading.BrokenBarrierError:
            log.errors["warm-up did not finish in time"] += 1
            return
        consecutive_errors = 0
        while consecutive_errors < MAX_CONSECUTIVE_ERRORS and tickets.take():
            started = time.perf_counter()
            if started >= clock.deadline:
                break
            try:
                parts = worker()
            except Exception as error:  # noqa: BLE001 - every failure is a counted error
                log.errors[_describe(error)] += 1
                consecutive_errors += 1
                continue
            log.latencies.append(time.perf_counter() - started)
            for part, seconds in (parts or {}).items():
                log.parts.setdefault(part, []).append(seconds)
            consecutive_errors = 0
    finally:
        log.finished = True


def run_load(
    name: str,
    kind: str,
    make_worker: Callable[[int], Worker],
    concurrency: int,
    budget: Budget,
) -> RunResult:
    """Measures ``concurrency`` threads each calling its own worker until the budget ends.

    Args:
        name: Name reported for the run.
        kind: ``"service"`` or ``"baseline"``.
        make_worker: Builds the worker of client ``index`` (called here, before the clock).
        concurrency: Number of client threads, at least 1.
        budget: Count and time limits of the run.

    Returns:
        The merged result: correct operations, errors, wall time and latency summaries.
    """
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    workers = [make_worker(index) for index in range(concurrency)]
    logs = [_ThreadLog() for _ in workers]
    tickets = _Tickets(budget.op_limit())
    clock = _Clock(budget)
    barrier = threading.Barrier(concurrency, action=clock.start, timeout=WARMUP_TIMEOUT_S)
    threads = [
        threading.Thread(
            target=_drive,
            args=(worker, log, tickets, barrier, clock, budget.warmup),
            name=f"bench-{name}-{index}",
            daemon=True,
        )
        for index, (worker, log) in enumerate(zip(workers, logs, strict=True))
    ]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=max(0.0, clock.join_by() - time.perf_counter()))
        elapsed = time.perf_counter() - clock.started
    finally:
        for worker in workers:
            worker.close()
    return _merge(name, kind, concurrency, elapsed, logs)


class _Clock:
    """The start time and deadline of a run, set when the last thread finishes warming up.

    Set by the barrier's action, which runs once before any thread is released, so every
    thread sees the deadline and warm-up time never eats into the measured duration.
    """

    def __init__(self, budget: Budget) -> None:
        self._budget = budget
        self.started = time.perf_counter()
        self.deadline = budget.deadline_after(self.started + WARMUP_TIMEOUT_S)

    def start(self) -> None:
        """Starts the measured period now."""
        self.started = time.perf_counter()
        self.deadline = self._budget.deadline_after(self.started)

    def join_by(self) -> float:
        """Returns the time by which every thread must have ended."""
        return max(self.deadline, self.started + WARMUP_TIMEOUT_S) + JOIN_GRACE_S


def _merge(
    name: str, kind: str, concurrency: int, elapsed: float, logs: list[_ThreadLog]
) -> RunResult:
    """Combines the per-thread logs into one result."""
    latencies: list[float] = []
    parts: dict[str, list[float]] = {}
    errors: Counter[str] = Counter()
    for log in logs:
        latencies.extend(log.latencies)
        for part, values in log.parts.items():
            parts.setdefault(part, []).extend(values)
        errors.update(log.errors)
        if not log.finished:
            errors["thread still running after the grace period (stuck operation)"] += 1
    part_summaries = {}
    for part, values in parts.items():
        summary = summarize_latencies(values)
        if summary is not None:
            part_summaries[part] = summary
    return RunResult(
        name=name,
        kind=kind,
        concurrency=concurrency,
        ok=len(latencies),
        errors=sum(errors.values()),
        elapsed_s=elapsed,
        latency=summarize_latencies(latencies),
        parts=part_summaries,
        error_samples=[message for message, _ in errors.most_common(MAX_ERROR_SAMPLES)],
    )
