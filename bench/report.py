"""Turns the measured runs into tables, ratios to the baselines and the targets' verdicts.

The targets are data (one row each), so adding or changing one is a one-line edit, and
the text report and the JSON file are built from the same computed figures.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from bench.stats import LatencySummary, RunResult


class Results:
    """The runs of one invocation, looked up by name and concurrency."""

    def __init__(self, runs: Iterable[RunResult]) -> None:
        self.runs = list(runs)
        self._index = {(run.name, run.concurrency): run for run in self.runs}

    def get(self, name: str, concurrency: int) -> RunResult | None:
        """Returns the run of ``name`` at ``concurrency``, if it was measured."""
        return self._index.get((name, concurrency))

    def concurrencies(self) -> list[int]:
        """Returns the concurrency levels measured, ascending."""
        return sorted({run.concurrency for run in self.runs})


@dataclass(frozen=True)
class Figure:
    """A value computed from one or more runs.

    Attributes:
        value: The value, or ``None`` if a run it needs is missing or had no success.
        errors: Errors in the runs it was computed from (a figure from a run with wrong
            answers cannot meet a target).
    """

    value: float | None
    errors: int = 0


MISSING = Figure(None)


def _p50(results: Results, name: str, concurrency: int, part: str | None = None) -> Figure:
    """The median latency (ms) of a run, or of one named part of its operations."""
    run = results.get(name, concurrency)
    if run is None:
        return MISSING
    summary: LatencySummary | None = run.parts.get(part) if part else run.latency
    return Figure(summary.p50_ms if summary else None, run.errors)


def _rate(results: Results, name: str, concurrency: int) -> Figure:
    """The throughput (correct operations per second) of a run."""
    run = results.get(name, concurrency)
    return MISSING if run is None else Figure(run.rate if run.ok else None, run.errors)


def _combine(a: Figure, b: Figure, how: Callable[[float, float], float]) -> Figure:
    """Combines two figures; missing if either is missing or the result is undefined."""
    if a.value is None or b.value is None:
        return Figure(None, a.errors + b.errors)
    try:
        return Figure(how(a.value, b.value), a.errors + b.errors)
    except ZeroDivisionError:
        return Figure(None, a.errors + b.errors)


def run_py_ratio(results: Results, concurrency: int) -> Figure:
    """``run_py`` p50 divided by the bare ``python3 -c pass`` p50."""
    return _combine(_p50(results, "run_py", concurrency),
                    _p50(results, "bare_python", concurrency), lambda a, b: a / b)


def web_overhead(results: Results, concurrency: int) -> Figure:
    """The service's ``write_file`` p50 minus the echo app's p50, in ms."""
    return _combine(_p50(results, "write_read", concurrency, "write_file"),
                    _p50(results, "echo", concurrency), lambda a, b: a - b)


def speedup(results: Results, service: str, naive: str, concurrency: int) -> Figure:
    """Throughput of a service scenario over that of the naive grader doing the same."""
    return _combine(_rate(results, service, concurrency), _rate(results, naive, concurrency),
                    lambda a, b: a / b)


@dataclass(frozen=True)
class Target:
    """One performance target of the issue.

    Attributes:
        label: What is measured.
        goal: The target as written in the issue.
        limit: The bound.
        at_most: ``True`` if the value must be at most ``limit``, else at least.
        unit: Unit printed after the value.
        compute: Computes the figure from the runs.
    """

    label: str
    goal: str
    limit: float
    at_most: bool
    unit: str
    compute: Callable[[Results], Figure]


TARGETS: tuple[Target, ...] = (
    Target("eval1 p50 at c=1", "<= 4 ms", 4.0, True, "ms",
           lambda r: _p50(r, "eval1", 1)),
    Target("eval1 throughput at c=16", ">= 400 req/s", 400.0, False, "req/s",
           lambda r: _rate(r, "eval1", 16)),
    Target("eval10 throughput at c=16", ">= 150 req/s", 150.0, False, "req/s",
           lambda r: _rate(r, "eval10", 16)),
    Target("run_py p50 / bare python3 -c pass p50 at c=1", "<= 1.3x", 1.3, True, "x",
           lambda r: run_py_ratio(r, 1)),
    Target("write_read throughput at c=16", ">= 400 pairs/s", 400.0, False, "pairs/s",
           lambda r: _rate(r, "write_read", 16)),
    Target("web tier: write_file p50 - echo p50 at c=1", "<= 1.5 ms", 1.5, True, "ms",
           lambda r: web_overhead(r, 1)),
)


@dataclass(frozen=True)
class Verdict:
    """A target's outcome: ``met``, ``NOT MET`` or ``n/a`` (not measured)."""

    label: str
    goal: str
    value: float | None
    unit: str
    errors: int
    status: str


def judge(results: Results, targets: Sequence[Target] = TARGETS) -> list[Verdict]:
    """Computes every target's figure and says whether it is met.

    A figure computed from runs with errors never meets its target: speed obtained with
    wrong answers is not speed.
    """
    verdicts = []
    for target in targets:
        figure = target.compute(results)
        if figure.value is None:
            status = "n/a"
        else:
            value, limit = figure.value, target.limit
            within = value <= limit if target.at_most else value >= limit
            status = "met" if within and figure.errors == 0 else "NOT MET"
        verdicts.append(Verdict(target.label, target.goal, figure.value, target.unit,
                                figure.errors, status))
    return verdicts


def ratio_rows(results: Results) -> list[dict[str, Any]]:
    """Returns, per concurrency, the service's figures relative to the baselines."""
    rows = []
    for concurrency in results.concurrencies():
        row: dict[str, Any] = {"concurrency": concurrency}
        for key, figure in (
            ("eval1_vs_naive_throughput", speedup(results, "eval1", "naive_eval1", concurrency)),
            ("eval10_vs_naive_throughput",
             speedup(results, "eval10", "naive_eval10", concurrency)),
            ("run_py_p50_over_bare_p50", run_py_ratio(results, concurrency)),
            ("write_file_p50_minus_echo_p50_ms", web_overhead(results, concurrency)),
        ):
            row[key] = figure.value
        rows.append(row)
    return rows


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Formats rows as a plain-text table.

    The first column is left-aligned, the rest right-aligned (they are numbers).
    """
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            str(cell).ljust(width) if i == 0 else str(cell).rjust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(r) for r in rows])


def _num(value: float | None, digits: int = 2) -> str:
    """Formats a number, or ``-`` if there is none."""
    return "-" if value is None else f"{value:.{digits}f}"


RUN_HEADERS = ("run", "kind", "conc", "ok", "errors", "req/s", "p50 ms", "p90 ms", "p99 ms")


def run_row(run: RunResult) -> list[str]:
    """Returns the table cells of one run."""
    latency = run.latency
    return [
        run.name, run.kind, str(run.concurrency), str(run.ok), str(run.errors),
        _num(run.rate, 1),
        _num(latency.p50_ms if latency else None),
        _num(latency.p90_ms if latency else None),
        _num(latency.p99_ms if latency else None),
    ]


def render(results: Results, verdicts: Sequence[Verdict]) -> str:
    """Returns the full text report: runs, errors, ratios to the baselines, targets."""
    parts = ["Runs (req/s counts correct answers only; latencies are of correct answers)",
             table(RUN_HEADERS, [run_row(run) for run in results.runs])]
    part_rows = [
        [f"{run.name}.{name}", str(run.concurrency), _num(s.p50_ms), _num(s.p90_ms),
         _num(s.p99_ms)]
        for run in results.runs for name, s in run.parts.items()
    ]
    if part_rows:
        parts += ["", "Steps within an operation",
                  table(("step", "conc", "p50 ms", "p90 ms", "p99 ms"), part_rows)]
    failing = [run for run in results.runs if run.error_samples]
    if failing:
        parts += ["", "Errors (most frequent first)"]
        for run in failing:
            parts += [f"  {run.name} c={run.concurrency}: {message}" for message in
                      run.error_samples]
    ratios = ratio_rows(results)
    parts += ["", "Relative to the baselines",
              table(("conc", "eval1/naive x", "eval10/naive x", "run_py/bare p50 x",
                     "write_file-echo p50 ms"),
                    [[str(row["concurrency"]), _num(row["eval1_vs_naive_throughput"], 1),
                      _num(row["eval10_vs_naive_throughput"], 1),
                      _num(row["run_py_p50_over_bare_p50"]),
                      _num(row["write_file_p50_minus_echo_p50_ms"])] for row in ratios])]
    parts += ["", "Targets",
              table(("target", "goal", "measured", "errors", "status"),
                    [[v.label, v.goal, f"{_num(v.value)} {v.unit}", str(v.errors), v.status]
                     for v in verdicts])]
    return "\n".join(parts)


def to_json(results: Results, verdicts: Sequence[Verdict], meta: dict[str, Any]) -> dict[str, Any]:
    """Returns every raw figure of the run as a JSON-ready dict."""
    return {
        "meta": meta,
        "runs": [run.to_dict() for run in results.runs],
        "ratios": ratio_rows(results),
        "targets": [asdict(verdict) for verdict in verdicts],
    }
