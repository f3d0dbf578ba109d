"""Targets are judged from the runs, and errors forbid meeting one."""

from __future__ import annotations

from bench.report import (
    BARE_FORK_CPU,
    CASE_CPU,
    CASE_MODE_CPU,
    EARLIER_TARGETS,
    PROGRAM_CASE_CPU,
    Figure,
    Results,
    judge,
    one_off_figures,
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
    verdict = {v.label: v for v in judge(results, EARLIER_TARGETS)}["eval1 p50 at c=1"]
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
        _run("eval10", 16, 19, 10.0), _run("pool_eval10", 16, 10, 10.0),
    ])
    status = _status(results)
    assert status["eval1 throughput / pool at c=16"] == "met"  # 3x exactly
    assert status["eval10 throughput / pool at c=16"] == "NOT MET"  # 1.9x
    assert status["eval10_imports throughput / pool at c=16"] == "n/a"
    earlier = {v.label: v.status for v in judge(results, EARLIER_TARGETS)}
    assert earlier["eval1 p50 / pool p50 at c=1"] == "met"  # 0.6x exactly, not judged


def test_case_isolation_is_compared_with_the_pool_s_eval10() -> None:
    label = "eval10_case throughput / pool eval10 at c=16"
    pool = _run("pool_eval10", 16, 100, 10.0)
    assert _status(Results([_run("eval10_case", 16, 50, 10.0), pool]))[label] == "met"
    assert _status(Results([_run("eval10_case", 16, 49, 10.0), pool]))[label] == "NOT MET"
    # eval10 itself is not eval10_case's figure
    assert _status(Results([_run("eval10", 16, 90, 10.0), pool]))[label] == "n/a"


def test_program10_is_compared_with_the_naive_program_grader() -> None:
    label = "program10 throughput / naive_program10 at c=16"
    naive = _run("naive_program10", 16, 10, 100.0)
    assert _status(Results([_run("program10", 16, 40, 10.0), naive]))[label] == "met"
    assert _status(Results([_run("program10", 16, 39, 10.0), naive]))[label] == "NOT MET"
    assert _status(Results([_run("program10", 16, 40, 10.0)]))[label] == "n/a"


def test_run_echo_has_a_throughput_and_a_latency_target() -> None:
    results = Results([
        _run("run_echo", 16, 60, 10.0), _run("pool_run_echo", 16, 100, 10.0),
        _run("run_echo", 1, 50, 15.0), _run("pool_run_echo", 1, 50, 10.0),
    ])
    status = _status(results)
    assert status["run_echo throughput / pool at c=16"] == "met"  # 0.6x exactly
    assert status["run_echo p50 / pool p50 at c=1"] == "met"  # 1.5x exactly
    slower = Results([_run("run_echo", 1, 50, 15.1), _run("pool_run_echo", 1, 50, 10.0)])
    assert _status(slower)["run_echo p50 / pool p50 at c=1"] == "NOT MET"


def test_humaneval_compares_wall_times_and_errors_void_it() -> None:
    service = RunResult("humaneval", "service", 8, 154, 0, 2.0, None)
    pool = RunResult("pool_humaneval", "baseline", 8, 154, 0, 5.0, None)
    label = "humaneval wall / pool wall (8 clients)"
    verdict = {v.label: v for v in judge(Results([service, pool]))}[label]
    assert verdict.value == 0.4 and verdict.status == "met"
    service.errors = 1
    assert _status(Results([service, pool]))[label] == "NOT MET"


def test_each_kind_of_case_has_its_own_cpu_bound() -> None:
    case_mode = "isolation case: CPU per case / bare fork CPU"
    program = "program case: CPU per case / bare fork CPU"
    fast = Results([], {CASE_MODE_CPU: Figure(2.6), PROGRAM_CASE_CPU: Figure(3.0),
                        BARE_FORK_CPU: Figure(2.0)})
    slow = Results([], {CASE_MODE_CPU: Figure(2.7), PROGRAM_CASE_CPU: Figure(3.1),
                        BARE_FORK_CPU: Figure(2.0)})
    assert _status(fast)[case_mode] == "met" and _status(fast)[program] == "met"
    assert _status(slow)[case_mode] == "NOT MET" and _status(slow)[program] == "NOT MET"
    assert _status(Results([]))[case_mode] == "n/a"
    voided = Results([], {CASE_MODE_CPU: Figure(2.0, errors=1), BARE_FORK_CPU: Figure(2.0)})
    assert _status(voided)[case_mode] == "NOT MET"
    assert "bare fork: CPU per case" in render(fast, judge(fast))


def test_the_default_isolation_s_case_cpu_is_reported_not_judged() -> None:
    results = Results([], {CASE_CPU: Figure(9.0), BARE_FORK_CPU: Figure(2.0)})
    assert all("isolation request" not in verdict.label for verdict in judge(results))
    earlier = {v.label: v for v in judge(results, EARLIER_TARGETS)}
    verdict = earlier["isolation request: CPU per case / bare fork CPU"]
    assert verdict.value == 4.5 and verdict.status == "NOT MET"


def test_humaneval_tests_is_reported_once_per_run_without_a_target() -> None:
    service = RunResult("humaneval_tests", "service", 8, 164, 0, 3.0, None)
    pool = RunResult("pool_humaneval_tests", "baseline", 8, 164, 0, 2.0, None)
    results = Results([service, pool, _run("eval1", 16, 10, 1.0)])
    assert results.concurrencies() == [16]  # the one-pass runs are no concurrency level
    assert one_off_figures(results)["humaneval_tests_wall_ratio"].value == 1.5
    assert all("humaneval_tests" not in verdict.label for verdict in judge(results))
    assert "humaneval_tests wall / pool wall (no target)" in render(results, judge(results))
