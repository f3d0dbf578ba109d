"""The service CPU meter counts a process tree's CPU, ended children included."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bench.service_cpu import (
    CaseCpu,
    CpuPair,
    ProcCpu,
    ServiceCpuMeter,
    Snapshot,
    measure_case_cpu,
    used_between,
)
from bench.stats import RunResult

BURN = "sum(i * i for i in range(3_000_000))"


def test_a_reaped_child_s_cpu_is_counted() -> None:
    meter = ServiceCpuMeter(os.getpid())
    assert meter.source in ("rusage", "cgroup")
    before = meter.sample()
    subprocess.run([sys.executable, "-c", BURN], check=True)
    assert meter.sample() - before > 0.01


def test_a_missing_tree_counts_nothing() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert ServiceCpuMeter(child.pid).sample() == 0.0


class _FakeMeter(ServiceCpuMeter):
    """A service whose CPU so far is ``now``, all in one process."""

    def __init__(self) -> None:
        self.supervisor_pid, self.source, self.now = 0, "rusage", 0.0

    def quiet_snapshot(self) -> Snapshot:
        return Snapshot(0.0, {1: ProcCpu(0, self.now, 0.0)})


def test_per_case_cpu_is_the_difference_over_nine() -> None:
    meter = _FakeMeter()

    def run(name: str, count: int) -> RunResult:
        meter.now += count * (0.010 if name == "eval1" else 0.100)
        return RunResult(f"cpu_{name}", "service", 1, count, 0, 1.0, None)

    cpu = measure_case_cpu(meter, run, 20)
    assert isinstance(cpu, CaseCpu) and cpu.errors == 0
    assert round(cpu.few_ms, 6) == 10.0 and round(cpu.many_ms, 6) == 100.0
    assert round(cpu.per_case_ms, 6) == 10.0


def test_any_pair_of_scenarios_gives_its_per_case_cpu() -> None:
    meter = _FakeMeter()
    asked: list[str] = []

    def run(name: str, count: int) -> RunResult:
        asked.append(name)
        meter.now += count * (0.011 if name == "program1" else 0.074)
        return RunResult(f"cpu_{name}", "service", 1, count, 0, 1.0, None)

    cpu = measure_case_cpu(meter, run, 10, CpuPair("program1", "program10", 1, 10))
    assert asked == ["program1", "program10"]
    assert round(cpu.per_case_ms, 6) == 7.0


def test_a_pair_needs_more_cases_on_its_many_side() -> None:
    with pytest.raises(ValueError):
        CpuPair("eval10", "eval1", 10, 1)


def _snap(**procs: tuple[int, float, float]) -> Snapshot:
    return Snapshot(0.0, {int(pid[1:]): ProcCpu(*values) for pid, values in procs.items()})


def test_a_process_reaped_in_the_tree_counts_what_it_used_since_the_first_snapshot() -> None:
    # p2 (3 s before, 4 s at its end) is reaped by p1 in between: p1's reaped CPU grows by 4
    before = _snap(p1=(0, 1.0, 0.0), p2=(1, 3.0, 0.0))
    after = _snap(p1=(0, 1.5, 4.0), p3=(1, 0.25, 0.0))
    assert used_between(before, after) == 0.5 + 1.0 + 0.25


def test_a_whole_subtree_that_ended_is_counted_through_its_surviving_ancestor() -> None:
    # a sandbox (p2) and its template (p3) end; the zygote (p1) reaps p2, whose total
    # holds p3's: 2 + 5 before, 2.5 + 6 at the end
    before = _snap(p1=(0, 1.0, 0.0), p2=(1, 2.0, 0.0), p3=(2, 5.0, 0.0))
    after = _snap(p1=(0, 1.0, 8.5))
    assert used_between(before, after) == 1.5


def test_a_process_reaped_outside_the_tree_takes_nothing_away() -> None:
    # p2 ends and nobody in the tree reaps it (its CPU after the first snapshot is lost;
    # a plain difference of the totals would say -8 s)
    before = _snap(p1=(0, 1.0, 0.0), p2=(1, 8.0, 0.0))
    after = _snap(p1=(0, 1.25, 0.0))
    assert used_between(before, after) == 0.25
    assert after.total - before.total == -7.75
