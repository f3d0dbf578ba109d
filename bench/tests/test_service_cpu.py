"""The service CPU meter counts a process tree's CPU, ended children included."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bench.service_cpu import CaseCpu, CpuPair, ServiceCpuMeter, measure_case_cpu
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
    """Each batch of ``eval10`` requests costs 10x more than one of ``eval1``."""

    def __init__(self) -> None:
        self.supervisor_pid, self.source, self.now = 0, "rusage", 0.0

    def quiet_sample(self) -> float:
        return self.now


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
