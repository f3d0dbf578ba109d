"""The load driver keeps to its budget and counts every failure."""

from __future__ import annotations

import time
from collections.abc import Mapping

from bench.load import MAX_CONSECUTIVE_ERRORS, Budget, run_load


class Counting:
    """A worker that fails every ``fail_every``-th call."""

    def __init__(self, fail_every: int = 0) -> None:
        self.calls = 0
        self.fail_every = fail_every
        self.closed = False

    def __call__(self) -> Mapping[str, float] | None:
        self.calls += 1
        if self.fail_every and self.calls % self.fail_every == 0:
            raise ValueError("wrong answer")
        return {"half": 0.001}

    def close(self) -> None:
        self.closed = True


def test_request_budget_is_exact_over_all_threads() -> None:
    workers: list[Counting] = []

    def make(_index: int) -> Counting:
        workers.append(Counting())
        return workers[-1]

    result = run_load("t", "baseline", make, 4, Budget(duration_s=None, requests=101, warmup=0))
    assert result.ok == 101 and result.errors == 0
    assert sum(worker.calls for worker in workers) == 101
    assert all(worker.closed for worker in workers)
    assert result.parts["half"].count == 101


def test_duration_budget_stops_the_run() -> None:
    started = time.perf_counter()
    result = run_load("t", "baseline", lambda _i: Counting(), 2, Budget(duration_s=0.2))
    assert time.perf_counter() - started < 2.0
    assert result.ok > 0


def test_wrong_answers_are_errors_with_a_sample_message() -> None:
    result = run_load("t", "baseline", lambda _i: Counting(fail_every=2), 1,
                      Budget(duration_s=None, requests=10, warmup=0))
    assert (result.ok, result.errors) == (5, 5)
    assert result.error_samples == ["ValueError: wrong answer"]


def test_a_thread_gives_up_after_consecutive_errors() -> None:
    result = run_load("t", "baseline", lambda _i: Counting(fail_every=1), 1,
                      Budget(duration_s=30.0, warmup=0))
    assert result.errors == MAX_CONSECUTIVE_ERRORS
    assert result.latency is None
