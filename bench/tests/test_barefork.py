"""The bare-fork baseline measures correct work and returns usable figures."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from bench.barefork import fork_once, measure_fork, measure_in_fresh_interpreter
from bench.problems import add_problem

REPO = Path(__file__).resolve().parents[2]


def test_the_child_reports_the_result() -> None:
    assert fork_once("def add(a, b):\n    return a + b", "add(2, 3)") == "5"


def test_a_failing_child_is_an_error() -> None:
    with pytest.raises(RuntimeError):
        fork_once("def add(a, b):\n    return a + b", "add(1)")


def test_a_wrong_result_is_an_error() -> None:
    problem = add_problem(2)
    wrong = replace(problem, cases=({"input": "1, 2", "output": "4"},))
    with pytest.raises(RuntimeError):
        measure_fork(wrong, 2)


def test_figures_are_positive() -> None:
    cost = measure_fork(add_problem(10), 20)
    assert cost.iterations == 20 and cost.cpu_ms > 0 and cost.wall_ms > 0


def test_a_fresh_interpreter_gives_positive_figures() -> None:
    cost = measure_in_fresh_interpreter(sys.executable, 20, REPO)
    assert cost.iterations == 20 and cost.cpu_ms > 0 and cost.wall_ms > 0


def test_the_child_ends_with_os_exit_not_the_interpreter_s_exit() -> None:
    # An exit handler of the parent runs once, in the parent: a child that ended through
    # the interpreter's exit (sys.exit) would run it too, and cost ten times as much.
    script = ("import atexit\n"
              "from bench.barefork import fork_once\n"
              "atexit.register(print, 'exit handler')\n"
              "print(fork_once('def add(a, b):\\n    return a + b', 'add(2, 3)'), flush=True)\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True,
                          text=True, timeout=60, check=True)
    assert done.stdout.splitlines() == ["5", "exit handler"]


def test_it_runs_in_an_interpreter_without_the_harness_s_packages() -> None:
    # -S: no site-packages (no requests), as a sandbox interpreter may be
    done = subprocess.run([sys.executable, "-S", "-m", "bench.barefork", "--iterations", "5"], cwd=REPO,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-500:]
    assert '"iterations": 5' in done.stdout
