"""The arithmetic behind every reported figure."""

from __future__ import annotations

import pytest

from bench.stats import RunResult, percentile, summarize_latencies


def test_percentile_interpolates_between_samples() -> None:
    values = [1.0, 2.0, 3.0, 4.0]
    assert percentile(values, 0.0) == 1.0
    assert percentile(values, 1.0) == 4.0
    assert percentile(values, 0.5) == pytest.approx(2.5)


def test_percentile_of_one_sample_is_that_sample() -> None:
    assert percentile([7.0], 0.99) == 7.0


def test_percentile_rejects_empty_input_and_bad_fractions() -> None:
    with pytest.raises(ValueError):
        percentile([], 0.5)
    with pytest.raises(ValueError):
        percentile([1.0], 1.5)


def test_summary_is_in_milliseconds_and_none_without_samples() -> None:
    summary = summarize_latencies([0.003, 0.001, 0.002])
    assert summary is not None
    assert summary.p50_ms == pytest.approx(2.0)
    assert summary.max_ms == pytest.approx(3.0)
    assert summarize_latencies([]) is None


def test_rate_counts_correct_operations_only() -> None:
    run = RunResult("x", "service", 1, ok=50, errors=50, elapsed_s=2.0, latency=None)
    assert run.rate == 25.0
    assert run.to_dict()["rate_per_s"] == 25.0
