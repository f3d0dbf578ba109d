"""Which baseline runs each service scenario is compared with."""

from __future__ import annotations

from bench.baselines import (
    NAIVE_PROGRAM_SCENARIOS,
    POOL_SCENARIOS,
    naive_program_scenarios,
    pool_scenarios,
)
from bench.scenarios import SCENARIOS


def test_case_isolation_is_measured_against_the_pool_s_own_scenario() -> None:
    assert pool_scenarios(["eval10_case"]) == ["eval10"]
    assert pool_scenarios(["eval1_case", "eval10", "eval10_case"]) == ["eval1", "eval10"]
    assert pool_scenarios(["program10", "humaneval_tests"]) == ["humaneval_tests"]


def test_without_a_comparable_scenario_every_baseline_scenario_runs() -> None:
    assert pool_scenarios([]) == list(POOL_SCENARIOS)
    assert pool_scenarios(["write_read"]) == list(POOL_SCENARIOS)
    assert naive_program_scenarios(["eval1"]) == list(NAIVE_PROGRAM_SCENARIOS)
    assert naive_program_scenarios(["program10", "eval1"]) == ["program10"]


def test_every_baseline_scenario_is_a_scenario() -> None:
    assert set(POOL_SCENARIOS) | set(NAIVE_PROGRAM_SCENARIOS) <= set(SCENARIOS)
