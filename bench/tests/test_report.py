"""Targets are judged from the runs, and errors forbid meeting one."""

from __future__ import annotations

from bench.report import Results, judge, render
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
    status = {verdict.label: verdict.status for verdict in judge(results)}
    assert status["eval1 p50 at c=1"] == "met"
    assert status["eval1 throughput at c=16"] == "NOT MET"
    assert status["eval10 throughput at c=16"] == "n/a"
    assert status["run_py p50 / bare python3 -c pass p50 at c=1"] == "met"  # 1.3x exactly


def test_errors_mean_a_target_is_not_met() -> None:
    results = Results([_run("eval1", 1, 300, 1.0, errors=1)])
    verdict = judge(results)[0]
    assert verdict.status == "NOT MET" and verdict.errors == 1


def test_web_overhead_uses_the_write_half_of_the_pair() -> None:
    write = LatencySummary(10, 3.0, 3.0, 3.0, 3.0, 3.0)
    results = Results([_run("write_read", 1, 10, 5.0, parts={"write_file": write}),
                       _run("echo", 1, 10, 2.0)])
    verdict = [v for v in judge(results) if v.label.startswith("web tier")][0]
    assert verdict.value == 1.0 and verdict.status == "met"
    assert "write_read.write_file" in render(results, judge(results))
