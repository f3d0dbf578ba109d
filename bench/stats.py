"""Latency and throughput summaries of one measured load run.

Kept free of any I/O so the arithmetic the targets depend on can be checked on its own.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Returns the ``fraction`` quantile of already sorted values, linearly interpolated.

    Interpolation (numpy's default) is used rather than nearest rank so that p99 of a short
    run is not simply its slowest sample, which would make short runs look worse than they
    are.

    Args:
        sorted_values: Samples in ascending order; must not be empty.
        fraction: Quantile between 0 and 1 (0.5 is the median).

    Raises:
        ValueError: If there are no samples or the fraction is out of range.
    """
    if not sorted_values:
        raise ValueError("percentile of no samples")
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction {fraction} outside [0, 1]")
    position = fraction * (len(sorted_values) - 1)
    low = math.floor(position)
    high = min(low + 1, len(sorted_values) - 1)
    weight = position - low
    return sorted_values[low] * (1.0 - weight) + sorted_values[high] * weight


@dataclass(frozen=True)
class LatencySummary:
    """Latency percentiles in milliseconds of a set of successful operations.

    Attributes:
        count: Number of samples summarised.
        p50_ms: Median latency.
        p90_ms: 90th percentile.
        p99_ms: 99th percentile.
        mean_ms: Arithmetic mean, to spot a long tail the percentiles hide.
        max_ms: Slowest sample.
    """

    count: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float


def summarize_latencies(seconds: Sequence[float]) -> LatencySummary | None:
    """Summarises latencies given in seconds; ``None`` when there are none.

    ``None`` rather than zeros, so that a scenario where every request failed can never
    appear to meet a latency target.
    """
    if not seconds:
        return None
    ordered = sorted(seconds)
    to_ms = 1000.0
    return LatencySummary(
        count=len(ordered),
        p50_ms=percentile(ordered, 0.50) * to_ms,
        p90_ms=percentile(ordered, 0.90) * to_ms,
        p99_ms=percentile(ordered, 0.99) * to_ms,
        mean_ms=sum(ordered) / len(ordered) * to_ms,
        max_ms=ordered[-1] * to_ms,
    )


@dataclass
class RunResult:
    """The measured outcome of one scenario at one concurrency.

    Attributes:
        name: Scenario or baseline name (``eval1``, ``baseline_bare_python``...).
        kind: ``"service"`` or ``"baseline"``.
        concurrency: Number of client threads.
        ok: Operations that completed with a correct answer.
        errors: Operations that failed: transport error, bad status or wrong answer.
        elapsed_s: Wall time from the common start to the last thread's end.
        latency: Summary over successful operations, ``None`` if there were none.
        parts: Summaries of named sub-steps of an operation (e.g. the ``write_file`` half of
            a write/read pair), used where a target concerns one step only.
        error_samples: A few distinct error messages, so a failing run explains itself.
    """

    name: str
    kind: str
    concurrency: int
    ok: int
    errors: int
    elapsed_s: float
    latency: LatencySummary | None
    parts: dict[str, LatencySummary] = field(default_factory=dict)
    error_samples: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        """Correct operations per second (errors do not count toward throughput)."""
        return self.ok / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        """Returns a JSON-ready dict, with the derived rate included."""
        data = asdict(self)
        data["rate_per_s"] = self.rate
        return data
