"""Targets are judged from the runs, and errors forbid meeting one."""

from __future__ import annotations

from bench.report import (
    BARE_FORK_CPU,
    CASE_CPU,
    EARLIER_TARGETS,
    Figure,
    Results,
    judge,
    render,
)
from bench.stats import LatencySummary, RunResult


def _run(name: str, conc: int, ok: int, p50: float, errors: int = 0,
         parts: dict[str, LatencySummary] | None = None) -> RunResult:
    latency = LatencySummary(ok, p50, p50, p50, p50, p50)
    return RunResult(name, "service", conc, ok, errors, 1.0, latency, parts or {})


def test_targets_are_met_missed_or_not_measured() -> None:
    results = Results([
        _run("eval1", 1, 300, 3.0),
        _run("eval1", 16, 380, 30.0),
        _run("run_py", 1, 40, 26.0),
        _run("bare_python", 1, 50, 20.0),
    ])
    status = {verdict.label: verdict.status for verdict in judge(results, EARLIER_TARGETS)}
    assert status["eval1 p50 at c=1"] == "met"
    assert status["eval1 throughput at c=16"] == "NOT MET"
    assert status["eval10 throughput at c=16"] == "n/a"
    assert status["run_py p50 / bare python3 -c pass p50 at c=1"] == "met"  # 1.3x exactly


def test_errors_mean_a_target_is_not_met() -> None:
    results = Results([_run("eval1", 1, 300, 1.0, errors=1)])
    verdict = judge(results, EARLIER_TARGETS)[0]
    assert verdict.status == "NOT MET" and verdict.errors == 1


def test_web_overhead_uses_the_write_half_of_the_pair() -> None:
    write = LatencySummary(10, 3.0, 3.0, 3.0, 3.0, 3.0)
    results = Results([_run("write_read", 1, 10, 5.0, parts={"write_file": write}),
                       _run("echo", 1, 10, 2.0)])
    verdict = [v for v in judge(results, EARLIER_TARGETS) if v.label.startswith("web tier")][0]
    assert verdict.value == 1.0 and verdict.status == "met"
    assert "write_read.write_file" in render(results, judge(results))


def _status(results: Results) -> dict[str, str]:
    return {verdict.label: verdict.status for verdict in judge(results)}


def test_pool_targets_are_ratios_to_the_pool_runs() -> None:
    results = Results([
        _run("eval1", 16, 300, 10.0), _run("pool_eval1", 16, 100, 10.0),
        _run("eval1", 1, 50, 6.0), _run("pool_eval1", 1, 50, 10.0),
        _run("eval10", 16, 14, 10.0), _run("pool_eval10", 16, 10, 10.0),
    ])
    status = _status(results)
    assert status["eval1 throughput / pool at c=16"] == "met"  # 3x exactly
    assert status["eval1 p50 / pool p50 at c=1"] == "met"  # 0.6x exactly
    assert status["eval10 throughput / pool at c=16"] == "NOT MET"  # 1.4x
    assert status["eval10_imports throughput / pool at c=16"] == "n/a"


def test_humaneval_compares_wall_times_and_errors_void_it() -> None:
    service = RunResult("humaneval", "service", 8, 154, 0, 2.0, None)
    pool = RunResult("pool_humaneval", "baseline", 8, 154, 0, 5.0, None)
    label = "humaneval wall / pool wall (8 clients)"
    verdict = {v.label: v for v in judge(Results([service, pool]))}[label]
    assert verdict.value == 0.4 and verdict.status == "met"
    service.errors = 1
    assert _status(Results([service, pool]))[label] == "NOT MET"


def test_case_cpu_is_judged_against_the_bare_fork() -> None:
    label = "per-case CPU / bare fork CPU"
    fast = Results([], {CASE_CPU: Figure(3.0), BARE_FORK_CPU: Figure(2.0)})
    slow = Results([], {CASE_CPU: Figure(3.2), BARE_FORK_CPU: Figure(2.0)})
    assert _status(fast)[label] == "met" and _status(slow)[label] == "NOT MET"
    assert _status(Results([]))[label] == "n/a"
    assert "bare fork: CPU per case" in render(fast, judge(fast))
