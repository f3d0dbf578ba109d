"""The "bare fork" baseline: the least CPU a fresh process per case can cost.

In a warm interpreter that has already imported what a case needs, one iteration forks;
the child ``exec``s the solution in fresh globals, calls the function, writes the
``repr`` of the result to a pipe and ``os._exit(0)``s; the parent reads and waits. The
CPU of both sides (the parent's ``os.times()`` and the children's rusage) per iteration is
the yardstick of the service's per-case CPU: a sandbox that runs each case in its own
process cannot do with less, so the ratio says what confinement and plumbing add.

Run on its own (the harness does so, in a fresh interpreter, so the forked process is as
small as a zygote's rather than as big as the harness)::

    python3 -m bench.barefork --iterations 200
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.problems import Problem, add_problem  # noqa: E402 - after the path fix above

#: Iterations measured when nothing else is asked for.
DEFAULT_ITERATIONS = 200


@dataclass(frozen=True)
class ForkCost:
    """What one fork-per-case iteration costs, averaged over a run.

    Attributes:
        iterations: Iterations measured.
        cpu_ms: CPU time per iteration (parent and child, user and system), ms.
        wall_ms: Wall time per iteration, ms.
    """

    iterations: int
    cpu_ms: float
    wall_ms: float


def _cpu_seconds() -> float:
    """This process's CPU plus that of its waited-for children, in seconds."""
    own = os.times()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.user + own.system + children.ru_utime + children.ru_stime


def _child(code: str, call: str, write_end: int) -> None:
    """The child's side of an iteration; never returns."""
    status = 1
    try:
        namespace: dict[str, object] = {}
        exec(code, namespace)  # noqa: S102 - our own fixed problem
        os.write(write_end, repr(eval(call, namespace)).encode())  # noqa: S307
        status = 0
    finally:
        os._exit(status)


def fork_once(code: str, call: str) -> str:
    """Runs one iteration and returns what the child wrote.

    Raises:
        RuntimeError: If the child did not exit 0.
    """
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        _child(code, call, write_end)
    os.close(write_end)
    chunks = []
    while chunk := os.read(read_end, 65536):
        chunks.append(chunk)
    os.close(read_end)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"the forked child failed with status {status}")
    return b"".join(chunks).decode()


def measure_fork(problem: Problem, iterations: int) -> ForkCost:
    """Measures ``iterations`` fork-per-case iterations over the problem's cases in turn.

    Each result is checked against the case's expected output (both must be literals), so
    the figure is that of correct work.

    Raises:
        RuntimeError: If a child fails or returns a wrong result.
    """
    if iterations < 1:
        raise ValueError("iterations must be at least 1")
    calls = [(f"{problem.entry_point}({case['input']})", case["output"])
             for case in problem.cases]
    fork_once(problem.code, calls[0][0])  # warm: first-use costs do not belong to a case
    cpu_before, wall_before = _cpu_seconds(), time.perf_counter()
    for index in range(iterations):
        call, expected = calls[index % len(calls)]
        got = fork_once(problem.code, call)
        if ast.literal_eval(got) != ast.literal_eval(expected):
            raise RuntimeError(f"{call} gave {got!r}, expected {expected!r}")
    wall = time.perf_counter() - wall_before
    cpu = _cpu_seconds() - cpu_before
    return ForkCost(iterations, cpu / iterations * 1000.0, wall / iterations * 1000.0)


def measure_in_fresh_interpreter(python: str, iterations: int, cwd: Path) -> ForkCost:
    """Runs :func:`main` in a new ``python`` started in ``cwd`` and returns its figures.

    A fresh interpreter forks a process as small as the service's zygote; forking the
    harness itself (threads, HTTP clients, every result so far) would cost more and make
    the service look better than it is.

    Raises:
        RuntimeError: If the measurement fails.
    """
    done = subprocess.run(  # noqa: S603 - our own module
        [python, "-m", "bench.barefork", "--iterations", str(iterations)],
        cwd=cwd, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"bare fork measurement failed: {done.stderr.strip()[-300:]}")
    return ForkCost(**json.loads(done.stdout))


def main(argv: list[str] | None = None) -> int:
    """Prints the :class:`ForkCost` of the ``eval10`` problem as JSON."""
    parser = argparse.ArgumentParser(prog="python3 -m bench.barefork",
                                     description="CPU and wall time of a bare fork per case")
    parser.add_argument("--iterations", type=int, default=DEFAULT_ITERATIONS)
    args = parser.parse_args(argv)
    print(json.dumps(asdict(measure_fork(add_problem(10), args.iterations))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
