"""Turns the measured runs into tables, ratios to the baselines and the targets' verdicts.

The targets are data (one row each), so adding or changing one is a one-line edit, and
the text report and the JSON file are built from the same computed figures.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from bench.stats import LatencySummary, RunResult

#: Prefix of the ``pool`` baseline's runs (``pool_eval1``...), the targets' yardstick.
POOL = "pool_"

#: Prefix of the naive program grader's runs (``naive_program10``).
NAIVE = "naive_"

#: The scenarios whose figure is the wall time of one pass, and their client threads.
HUMANEVAL = "humaneval"
HUMANEVAL_TESTS = "humaneval_tests"
ONE_PASS = (HUMANEVAL, HUMANEVAL_TESTS)
HUMANEVAL_CONCURRENCY = 8

#: Names of the figures that are not load runs (the per-case CPU measurements).
CASE_CPU = "case_cpu_ms"              # isolation "request" (the default): eval10 vs eval1
CASE_MODE_CPU = "case_mode_cpu_ms"    # isolation "case": eval10_case vs eval1_case
PROGRAM_CASE_CPU = "program_case_cpu_ms"  # program cases: program10 vs program1
BARE_FORK_CPU = "bare_fork_cpu_ms"
BARE_FORK_WALL = "bare_fork_wall_ms"


def request_cpu(scenario: str) -> str:
    """The name of the figure "service CPU per request of ``scenario``"."""
    return f"cpu_per_{scenario}_ms"


EVAL1_CPU = request_cpu("eval1")
EVAL10_CPU = request_cpu("eval10")


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


class Results:
    """The runs of one invocation, looked up by name and concurrency, and other figures.

    Attributes:
        runs: The load runs, in the order they were measured.
        figures: Measured values that are not load runs (``CASE_CPU``...), with the errors
            of the runs they were computed from.
    """

    def __init__(self, runs: Iterable[RunResult],
                 figures: Mapping[str, Figure] | None = None) -> None:
        self.runs = list(runs)
        self.figures = dict(figures or {})
        self._index = {(run.name, run.concurrency): run for run in self.runs}

    def get(self, name: str, concurrency: int) -> RunResult | None:
        """Returns the run of ``name`` at ``concurrency``, if it was measured."""
        return self._index.get((name, concurrency))

    def figure(self, name: str) -> Figure:
        """Returns the figure ``name``, or ``MISSING``."""
        return self.figures.get(name, MISSING)

    def concurrencies(self) -> list[int]:
        """Returns the concurrency levels of the repeated runs, ascending.

        The one-pass runs (``humaneval``, ``humaneval_tests``) are left out: their fixed
        client count is not a level the other scenarios were measured at.
        """
        return sorted({run.concurrency for run in self.runs if not is_one_pass(run.name)})


def is_one_pass(name: str) -> bool:
    """Whether a run (of the service or the pool) is a one-pass HumanEval run."""
    return name.removeprefix(POOL) in ONE_PASS


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


def speedup(results: Results, service: str, baseline: str, concurrency: int) -> Figure:
    """Throughput of a service scenario over that of a baseline doing the same."""
    return _combine(_rate(results, service, concurrency),
                    _rate(results, baseline, concurrency), lambda a, b: a / b)


def pool_speedup(results: Results, scenario: str, concurrency: int) -> Figure:
    """Throughput of a scenario over that of the ``pool`` baseline on the same scenario."""
    return speedup(results, scenario, POOL + scenario, concurrency)


def pool_p50_ratio(results: Results, scenario: str, concurrency: int) -> Figure:
    """p50 latency of a scenario over that of the ``pool`` baseline."""
    return _combine(_p50(results, scenario, concurrency),
                    _p50(results, POOL + scenario, concurrency), lambda a, b: a / b)


def _wall(results: Results, name: str) -> Figure:
    """The wall time (s) of a one-pass run; missing if it did nothing right."""
    run = results.get(name, HUMANEVAL_CONCURRENCY)
    return MISSING if run is None else Figure(run.elapsed_s if run.ok else None, run.errors)


def humaneval_ratio(results: Results, scenario: str = HUMANEVAL) -> Figure:
    """The service's wall time of a one-pass scenario over the ``pool`` baseline's."""
    return _combine(_wall(results, scenario), _wall(results, POOL + scenario),
                    lambda a, b: a / b)


def case_cpu_ratio(results: Results, figure: str = CASE_CPU) -> Figure:
    """A per-case CPU figure of the service over the bare fork's CPU per case."""
    return _combine(results.figure(figure), results.figure(BARE_FORK_CPU),
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


#: The performance targets, all relative to baselines measured in the same run. These are
#: what ``--strict`` judges. ``eval10_case`` is compared with ``pool_eval10``: the pool has
#: no isolation levels, so the same work is its yardstick.
TARGETS: tuple[Target, ...] = (
    Target("eval1 throughput / pool at c=16", ">= 3x", 3.0, False, "x",
           lambda r: pool_speedup(r, "eval1", 16)),
    Target("eval10 throughput / pool at c=16", ">= 2x", 2.0, False, "x",
           lambda r: pool_speedup(r, "eval10", 16)),
    Target("eval10_imports throughput / pool at c=16", ">= 3x", 3.0, False, "x",
           lambda r: pool_speedup(r, "eval10_imports", 16)),
    Target(f"humaneval wall / pool wall ({HUMANEVAL_CONCURRENCY} clients)", "<= 0.5x", 0.5,
           True, "x", humaneval_ratio),
    Target("eval10_case throughput / pool eval10 at c=16", ">= 0.5x", 0.5, False, "x",
           lambda r: speedup(r, "eval10_case", POOL + "eval10", 16)),
    Target("isolation case: CPU per case / bare fork CPU", "<= 1.3x", 1.3, True, "x",
           lambda r: case_cpu_ratio(r, CASE_MODE_CPU)),
    Target("program10 throughput / naive_program10 at c=16", ">= 4x", 4.0, False, "x",
           lambda r: speedup(r, "program10", NAIVE + "program10", 16)),
    Target("program case: CPU per case / bare fork CPU", "<= 1.5x", 1.5, True, "x",
           lambda r: case_cpu_ratio(r, PROGRAM_CASE_CPU)),
    Target("run_echo throughput / pool at c=16", ">= 0.6x", 0.6, False, "x",
           lambda r: pool_speedup(r, "run_echo", 16)),
    Target("run_echo p50 / pool p50 at c=1", "<= 1.5x", 1.5, True, "x",
           lambda r: pool_p50_ratio(r, "run_echo", 1)),
)

#: Earlier targets, still reported for comparison with older results but not judged by
#: ``--strict``: the relative ones this set replaced where their figure is not judged any
#: more (the others moved to a new goal above), and the absolute ones, which depend on
#: the machine.
EARLIER_TARGETS: tuple[Target, ...] = (
    Target("eval1 p50 / pool p50 at c=1", "<= 0.6x", 0.6, True, "x",
           lambda r: pool_p50_ratio(r, "eval1", 1)),
    Target("isolation request: CPU per case / bare fork CPU", "<= 1.5x", 1.5, True, "x",
           case_cpu_ratio),
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


#: The per-concurrency ratio columns: JSON key, table header, how, digits shown.
RATIO_COLUMNS: tuple[tuple[str, str, Callable[[Results, int], Figure], int], ...] = (
    ("eval1_vs_pool_throughput", "eval1/pool x", lambda r, c: pool_speedup(r, "eval1", c), 2),
    ("eval1_p50_over_pool_p50", "eval1/pool p50 x",
     lambda r, c: pool_p50_ratio(r, "eval1", c), 2),
    ("eval10_vs_pool_throughput", "eval10/pool x",
     lambda r, c: pool_speedup(r, "eval10", c), 2),
    ("eval10_imports_vs_pool_throughput", "imports/pool x",
     lambda r, c: pool_speedup(r, "eval10_imports", c), 2),
    ("eval10_case_vs_pool_throughput", "eval10_case/pool x",
     lambda r, c: speedup(r, "eval10_case", POOL + "eval10", c), 2),
    ("program10_vs_naive_throughput", "program10/naive x",
     lambda r, c: speedup(r, "program10", NAIVE + "program10", c), 2),
    ("run_echo_vs_pool_throughput", "run_echo/pool x",
     lambda r, c: pool_speedup(r, "run_echo", c), 2),
    ("run_echo_p50_over_pool_p50", "run_echo/pool p50 x",
     lambda r, c: pool_p50_ratio(r, "run_echo", c), 2),
    ("eval1_vs_naive_throughput", "eval1/naive x",
     lambda r, c: speedup(r, "eval1", "naive_eval1", c), 1),
    ("eval10_vs_naive_throughput", "eval10/naive x",
     lambda r, c: speedup(r, "eval10", "naive_eval10", c), 1),
    ("run_py_p50_over_bare_p50", "run_py/bare p50 x", run_py_ratio, 2),
    ("write_file_p50_minus_echo_p50_ms", "write_file-echo p50 ms", web_overhead, 2),
)


def _figure(name: str) -> Callable[[Results], Figure]:
    """Looks up a measured figure by name."""
    return lambda r: r.figure(name)


#: Figures measured once per invocation: JSON key, label, how, unit.
ONE_OFF: tuple[tuple[str, str, Callable[[Results], Figure], str], ...] = (
    ("humaneval_wall_s", f"humaneval wall, {HUMANEVAL_CONCURRENCY} clients",
     lambda r: _wall(r, HUMANEVAL), "s"),
    ("pool_humaneval_wall_s", "pool baseline: humaneval wall",
     lambda r: _wall(r, POOL + HUMANEVAL), "s"),
    ("humaneval_wall_ratio", "humaneval wall / pool wall", humaneval_ratio, "x"),
    ("humaneval_tests_wall_s", f"humaneval_tests wall (test-code mode), "
     f"{HUMANEVAL_CONCURRENCY} clients", lambda r: _wall(r, HUMANEVAL_TESTS), "s"),
    ("pool_humaneval_tests_wall_s", "pool baseline: humaneval_tests wall",
     lambda r: _wall(r, POOL + HUMANEVAL_TESTS), "s"),
    ("humaneval_tests_wall_ratio", "humaneval_tests wall / pool wall (no target)",
     lambda r: humaneval_ratio(r, HUMANEVAL_TESTS), "x"),
    (EVAL1_CPU, "service CPU per eval1 request", _figure(EVAL1_CPU), "ms"),
    (EVAL10_CPU, "service CPU per eval10 request", _figure(EVAL10_CPU), "ms"),
    (CASE_CPU, "isolation request: CPU per case ((eval10 - eval1) / 9)", _figure(CASE_CPU),
     "ms"),
    (request_cpu("eval1_case"), "service CPU per eval1_case request",
     _figure(request_cpu("eval1_case")), "ms"),
    (request_cpu("eval10_case"), "service CPU per eval10_case request",
     _figure(request_cpu("eval10_case")), "ms"),
    (CASE_MODE_CPU, "isolation case: CPU per case ((eval10_case - eval1_case) / 9)",
     _figure(CASE_MODE_CPU), "ms"),
    (request_cpu("program1"), "service CPU per program1 request",
     _figure(request_cpu("program1")), "ms"),
    (request_cpu("program10"), "service CPU per program10 request",
     _figure(request_cpu("program10")), "ms"),
    (PROGRAM_CASE_CPU, "program case: CPU per case ((program10 - program1) / 9)",
     _figure(PROGRAM_CASE_CPU), "ms"),
    (BARE_FORK_CPU, "bare fork: CPU per case", _figure(BARE_FORK_CPU), "ms"),
    (BARE_FORK_WALL, "bare fork: wall per case", _figure(BARE_FORK_WALL), "ms"),
    ("case_cpu_ratio", "isolation request: CPU per case / bare fork CPU", case_cpu_ratio,
     "x"),
    ("case_mode_cpu_ratio", "isolation case: CPU per case / bare fork CPU",
     lambda r: case_cpu_ratio(r, CASE_MODE_CPU), "x"),
    ("program_case_cpu_ratio", "program case: CPU per case / bare fork CPU",
     lambda r: case_cpu_ratio(r, PROGRAM_CASE_CPU), "x"),
)


def ratio_rows(results: Results) -> list[dict[str, Any]]:
    """Returns, per concurrency, the service's figures relative to the baselines."""
    rows = []
    for concurrency in results.concurrencies():
        row: dict[str, Any] = {"concurrency": concurrency}
        for key, _header, compute, _digits in RATIO_COLUMNS:
            row[key] = compute(results, concurrency).value
        rows.append(row)
    return rows


def one_off_figures(results: Results) -> dict[str, Figure]:
    """Returns the figures measured once per invocation (HumanEval wall, per-case CPU)."""
    return {key: compute(results) for key, _label, compute, _unit in ONE_OFF}


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


def _verdict_table(verdicts: Sequence[Verdict]) -> str:
    """Formats target verdicts."""
    return table(("target", "goal", "measured", "errors", "status"),
                 [[v.label, v.goal, f"{_num(v.value)} {v.unit}", str(v.errors), v.status]
                  for v in verdicts])


def render(results: Results, verdicts: Sequence[Verdict],
           earlier: Sequence[Verdict] = ()) -> str:
    """Returns the full text report: runs, errors, ratios to the baselines, targets.

    Args:
        results: What was measured.
        verdicts: The targets ``--strict`` judges.
        earlier: Informational verdicts (the earlier targets), shown after them.
    """
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
    columns = [c for c in RATIO_COLUMNS if any(row[c[0]] is not None for row in ratios)]
    if columns:
        parts += ["", "Relative to the baselines (pool_* runs are the targets' yardstick)",
                  table(("conc", *(header for _k, header, _c, _d in columns)),
                        [[str(row["concurrency"]),
                          *(_num(row[key], digits) for key, _h, _c, digits in columns)]
                         for row in ratios])]
    one_off = [(label, figure, unit) for (_k, label, _c, unit), figure
               in zip(ONE_OFF, one_off_figures(results).values(), strict=True)
               if figure.value is not None]
    if one_off:
        parts += ["", "Measured once per run",
                  table(("figure", "value", "errors"),
                        [[label, f"{_num(figure.value)} {unit}", str(figure.errors)]
                         for label, figure, unit in one_off])]
    parts += ["", "Targets (judged by --strict)", _verdict_table(verdicts)]
    if earlier:
        parts += ["", "Earlier targets (for comparison with older results; not judged)",
                  _verdict_table(earlier)]
    return "\n".join(parts)


def to_json(results: Results, verdicts: Sequence[Verdict], meta: dict[str, Any],
            earlier: Sequence[Verdict] = ()) -> dict[str, Any]:
    """Returns every raw figure of the run as a JSON-ready dict."""
    return {
        "meta": meta,
        "runs": [run.to_dict() for run in results.runs],
        "ratios": ratio_rows(results),
        "figures": {key: asdict(figure) for key, figure in one_off_figures(results).items()},
        "targets": [asdict(verdict) for verdict in verdicts],
        "earlier_targets": [asdict(verdict) for verdict in earlier],
    }
