"""Command line of the benchmark harness: what to measure, against what, and the report.

Run from the repository root::

    python3 -m bench --start                 # start the service from this checkout
    python3 -m bench --url http://127.0.0.1:6000 --scenarios eval1,eval10

See ``bench/README.md`` for every option and how to read the report.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any, NoReturn

if __package__ in (None, ""):  # run as a script: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import baselines  # noqa: E402 - after the path fix above
from bench.api import DEFAULT_HTTP_TIMEOUT_S, require_loopback  # noqa: E402
from bench.barefork import DEFAULT_ITERATIONS, measure_in_fresh_interpreter  # noqa: E402
from bench.load import Budget  # noqa: E402
from bench.procs import ECHO_APP, POOL_APP, StartError, service_commands, wait_ready  # noqa: E402
from bench.report import (  # noqa: E402
    BARE_FORK_CPU,
    BARE_FORK_WALL,
    CASE_CPU,
    CASE_MODE_CPU,
    EARLIER_TARGETS,
    PROGRAM_CASE_CPU,
    Figure,
    Results,
    is_one_pass,
    judge,
    render,
    request_cpu,
    to_json,
)
from bench.scenarios import SCENARIOS, SessionPool, Target, measure, sandbox_python  # noqa: E402
from bench.servers import (  # noqa: E402
    ServiceHandle,
    pool_env,
    running_app,
    running_service,
    service_env,
)
from bench.service_cpu import CpuPair, ServiceCpuMeter, measure_case_cpu  # noqa: E402
from bench.stats import RunResult  # noqa: E402

REPO = Path(__file__).resolve().parent.parent

#: Longest any single run may go on starting operations, whatever ``--duration`` says.
MAX_RUN_SECONDS = 600.0


def _pair(few: str, many: str) -> CpuPair:
    """The per-case CPU pair of two fixed-problem scenarios, with their case counts."""
    return CpuPair(few, many, SCENARIOS[few].cases, SCENARIOS[many].cases)


#: The per-case CPU measurements: the scenario pair, and the figure it gives. Each is made
#: when the pair's many-case scenario is among the selected scenarios.
CPU_PAIRS: tuple[tuple[CpuPair, str], ...] = (
    (_pair("eval1", "eval10"), CASE_CPU),
    (_pair("eval1_case", "eval10_case"), CASE_MODE_CPU),
    (_pair("program1", "program10"), PROGRAM_CASE_CPU),
)


def _int_list(text: str) -> list[int]:
    """Parses ``1,4,16`` into positive integers."""
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not a list of integers: {text!r}") from error
    if not values or any(value < 1 or value > 256 for value in values):
        raise argparse.ArgumentTypeError("concurrencies must be between 1 and 256")
    return values


def _names(known: Sequence[str]) -> Callable[[str], list[str]]:
    """Returns a parser of a comma-separated subset of ``known`` (``none`` for empty)."""

    def parse(text: str) -> list[str]:
        if text.strip().lower() in ("", "none"):
            return []
        names = [part.strip() for part in text.split(",") if part.strip()]
        unknown = [name for name in names if name not in known]
        if unknown:
            raise argparse.ArgumentTypeError(
                f"unknown {', '.join(unknown)}; choose from {', '.join(known)}")
        return names

    return parse


def build_parser() -> argparse.ArgumentParser:
    """Returns the argument parser (kept separate so it can be tested)."""
    parser = argparse.ArgumentParser(
        prog="python3 -m bench",
        description="Benchmark the REPL service against baselines measured in the same run.",
    )
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--url", help="base URL of a running service (loopback only)")
    where.add_argument("--start", action="store_true",
                       help="start the service from this checkout (Procfile) and stop it after")
    parser.add_argument("--scenarios", type=_names(list(SCENARIOS)), default=list(SCENARIOS),
                        help=f"comma-separated subset of {','.join(SCENARIOS)} (default: all)")
    parser.add_argument("--baselines", type=_names(baselines.BASELINE_GROUPS),
                        default=list(baselines.BASELINE_GROUPS),
                        help="comma-separated subset of "
                        f"{','.join(baselines.BASELINE_GROUPS)}, or none (default: all)")
    parser.add_argument("--concurrency", type=_int_list, default=[1, 4, 16],
                        help="client thread counts (default: 1,4,16)")
    amount = parser.add_mutually_exclusive_group()
    amount.add_argument("--duration", type=float, default=5.0,
                        help="seconds per scenario and concurrency (default: 5)")
    amount.add_argument("--requests", type=int,
                        help="operations per scenario and concurrency, instead of a duration")
    parser.add_argument("--warmup", type=int, default=1,
                        help="unmeasured operations per client before each run (default: 1)")
    parser.add_argument("--cpu-requests", type=int, default=40,
                        help="sequential eval1 and eval10 requests each for the per-case CPU "
                        "(with --start; 0 skips it; default: 40)")
    parser.add_argument("--fork-iterations", type=int, default=DEFAULT_ITERATIONS,
                        help="iterations of the bare-fork baseline (default: "
                        f"{DEFAULT_ITERATIONS})")
    parser.add_argument("--max-seconds", type=float, default=120.0,
                        help="hard cap on the time of one run (default: 120)")
    parser.add_argument("--http-timeout", type=float, default=DEFAULT_HTTP_TIMEOUT_S,
                        help="seconds one HTTP request may take (default: 30)")
    parser.add_argument("--start-timeout", type=float, default=60.0,
                        help="seconds to wait for the started servers to be ready (default: 60)")
    parser.add_argument("--python", help="interpreter the subprocess baselines start "
                        "(default: the sandbox's python3 if this host has it, else python3)")
    parser.add_argument("--token", default=os.environ.get("REPL_API_TOKEN"),
                        help="bearer token (default: $REPL_API_TOKEN)")
    parser.add_argument("--json", type=Path, help="write every raw figure to this file")
    parser.add_argument("--keep-workdir", action="store_true",
                        help="keep the temporary directory (logs, sessions) after the run")
    parser.add_argument("--strict", action="store_true",
                        help="exit 1 unless every target is met and no operation failed")
    return parser


def budget_from(args: argparse.Namespace) -> Budget:
    """Returns the per-run budget the options ask for, capped by ``--max-seconds``."""
    if args.requests is not None and args.requests < 1:
        raise SystemExit("--requests must be at least 1")
    if args.duration is not None and args.duration <= 0:
        raise SystemExit("--duration must be positive")
    return Budget(
        duration_s=None if args.requests is not None else args.duration,
        requests=args.requests,
        max_seconds=min(max(args.max_seconds, 0.1), MAX_RUN_SECONDS),
        warmup=max(args.warmup, 0),
    )


def progress(result: RunResult) -> None:
    """Prints one finished run to stderr, so a long run shows it is alive."""
    latency = result.latency
    p50 = f"{latency.p50_ms:8.2f} ms" if latency else "       - ms"
    print(f"  {result.name:<14} c={result.concurrency:<3} {result.rate:9.1f}/s  p50 {p50}"
          f"  errors {result.errors}", file=sys.stderr, flush=True)


class Harness:
    """One invocation: the service, its sessions, the runs and the notes about them."""

    def __init__(
        self,
        args: argparse.Namespace,
        target: Target,
        workdir: Path,
        service: ServiceHandle | None,
    ) -> None:
        self.args = args
        self.target = target
        self.workdir = workdir
        self.service = service
        self.budget = budget_from(args)
        prefix = f"bench-{uuid.uuid4().hex[:8]}"
        self.pools = {0: SessionPool(target, prefix)}
        self.runs: list[RunResult] = []
        self.figures: dict[str, Figure] = {}
        self.cpu_source: str | None = None
        self.notes: list[str] = []
        self.python: str | None = None
        self.sandbox_python: str | None = None
        self.service_died = False
        self.load_at_start = _load_average()
        if self.load_at_start is not None and self.load_at_start > (os.cpu_count() or 1):
            print(f"warning: load average {self.load_at_start:.1f} on {os.cpu_count()} CPUs "
                  "before the run: other work is competing, figures will be noisy",
                  file=sys.stderr, flush=True)

    def pool(self, files: int) -> SessionPool:
        """Returns the session pool whose sessions hold ``files`` small files."""
        if files not in self.pools:
            self.pools[files] = SessionPool(self.target, f"{self.pools[0].prefix}-f{files}",
                                            files)
        return self.pools[files]

    def run_scenarios(self) -> None:
        """Measures each selected scenario; one that cannot be set up is noted and skipped.

        A started service that dies ends the scenarios (the rest would only be connection
        errors); the baselines still run.
        """
        for name in self.args.scenarios:
            if self._service_dead():
                return
            scenario = SCENARIOS[name]
            print(f"{name}: {scenario.summary}", file=sys.stderr, flush=True)
            try:
                self._record(measure(scenario, self.pool(scenario.files),
                                     self.args.concurrency, self.budget, progress))
            except Exception as error:  # noqa: BLE001 - report it and go on with the rest
                self._note(f"scenario {name} could not run: {type(error).__name__}: {error}")
        self._service_dead()

    def _record(self, runs: list[RunResult]) -> None:
        """Keeps runs; a one-pass run with errors is also noted, so it cannot go unseen.

        Every HumanEval canonical solution must pass: one that does not is a bug in the
        target (or in the conversion), never a figure to report quietly.
        """
        self.runs += runs
        for run in runs:
            if is_one_pass(run.name) and run.errors:
                samples = "; ".join(run.error_samples[:3])
                self._note(f"{run.name}: {run.errors} of {run.ok + run.errors} canonical "
                           f"solutions did not pass: {samples}")

    def run_case_cpu(self) -> None:
        """Measures the service's per-case CPU (needs ``--start``: the supervisor's pid).

        One measurement per pair of ``CPU_PAIRS`` whose many-case scenario was selected.
        Runs after the scenarios, so the service is warm, and before the baselines, so
        nothing else the harness started is using the CPU.
        """
        pairs = [(pair, key) for pair, key in CPU_PAIRS if pair.many in self.args.scenarios]
        pid = self.service.supervisor_pid if self.service else None
        if self.args.cpu_requests < 1 or not pairs or pid is None:
            return
        pool = self.pool(0)

        def run_requests(name: str, count: int) -> RunResult:
            budget = replace(self.budget, duration_s=None, requests=count, warmup=0)
            return measure(SCENARIOS[name], pool, [1], budget, progress, prefix="cpu_")[0]

        for pair, key in pairs:
            if self._service_dead():
                return
            print(f"per-case CPU: {self.args.cpu_requests} sequential {pair.few} and "
                  f"{pair.many} requests", file=sys.stderr, flush=True)
            try:
                meter = ServiceCpuMeter(pid)
                cpu = measure_case_cpu(meter, run_requests, self.args.cpu_requests, pair)
            except Exception as error:  # noqa: BLE001 - report it and go on
                self._note(f"per-case CPU ({pair.many}) could not be measured: "
                           f"{type(error).__name__}: {error}")
                continue
            self._record(list(cpu.runs))
            self.cpu_source = cpu.source
            self.figures[request_cpu(pair.few)] = Figure(cpu.few_ms, cpu.errors)
            self.figures[request_cpu(pair.many)] = Figure(cpu.many_ms, cpu.errors)
            self.figures[key] = Figure(cpu.per_case_ms, cpu.errors)

    def _service_dead(self) -> bool:
        """Notes (once) and returns whether a process of the started service has exited."""
        if self.service is None or self.service_died:
            return self.service_died
        death = self.service.death()
        if death is not None:
            self.service_died = True
            self._note(f"the service died, remaining scenarios skipped: {death}")
        return self.service_died

    def choose_python(self) -> None:
        """Picks the interpreter of the subprocess baselines (see ``host_python``).

        Called before the scenarios, while the service is fresh, so that the question to the
        sandbox does not depend on how the service fared under load.
        """
        if not {"naive", "bare", "naive_program"} & set(self.args.baselines):
            return
        if self.args.python is None and self.args.scenarios:
            try:
                self.pools[0].ensure(1)
                self.sandbox_python = sandbox_python(self.target, self.pools[0].ids[0])
            except Exception as error:  # noqa: BLE001 - fall back to the host's python3
                self._note(f"could not ask the sandbox for its python3: {error}")
        self.python = baselines.host_python(self.args.python, self.sandbox_python)
        print(f"baselines start {self.python}", file=sys.stderr, flush=True)

    def run_baselines(self) -> None:
        """Measures the selected baselines at the same concurrencies as the service."""
        chosen = self.args.baselines
        conc, budget = self.args.concurrency, self.budget
        if {"pool", "naive_program"} & set(chosen):
            self._run_pool_app()
        if "naive" in chosen:
            assert self.python is not None, "choose_python() comes first"
            print("baseline naive: a fresh interpreter per case", file=sys.stderr, flush=True)
            self.runs += baselines.measure_naive(self.python, conc, budget, progress)
        if "bare" in chosen:
            assert self.python is not None, "choose_python() comes first"
            print("baseline bare: python3 -c pass", file=sys.stderr, flush=True)
            self.runs += baselines.measure_bare(self.python, conc, budget, progress)
            self._run_bare_fork()
        if "echo" in chosen:
            print("baseline echo: bare Flask app, same gunicorn settings", file=sys.stderr,
                  flush=True)
            try:
                with running_app("echo", ECHO_APP, REPO, self.workdir, self.args.start_timeout,
                                 service_env(self.workdir)) as echo_url:
                    self.runs += baselines.measure_echo(echo_url, conc, budget, progress,
                                                        self.args.http_timeout)
            except StartError as error:
                self._note(f"echo app did not start: {error}")

    def _run_pool_app(self) -> None:
        """Measures the simple-grader app: the ``pool`` baseline on the scenarios it is
        compared on, and its program cases as the naive program grader (``naive_program``).

        With no comparable scenario selected (``--scenarios none``), each group measures
        all of its scenarios, so the baselines can be measured on their own.
        """
        chosen, scenarios = self.args.baselines, self.args.scenarios
        groups: list[tuple[str, list[str], str]] = []
        if "pool" in chosen:
            groups.append((baselines.POOL_PREFIX, baselines.pool_scenarios(scenarios),
                           "process pool per request, subprocess per command"))
        if "naive_program" in chosen:
            groups.append((baselines.NAIVE_PREFIX, baselines.naive_program_scenarios(scenarios),
                           f"{self.python} main.py per program case"))
        try:
            with running_app("pool", POOL_APP, REPO, self.workdir, self.args.start_timeout,
                             pool_env(self.workdir, self.python)) as pool_url:
                for prefix, names, what in groups:
                    print(f"baseline {prefix.rstrip('_')}: {what} ({', '.join(names)})",
                          file=sys.stderr, flush=True)
                    runs, failures = baselines.measure_pool(
                        pool_url, names, self.args.concurrency, self.budget, progress,
                        self.args.http_timeout, f"{self.pools[0].prefix}-{prefix.rstrip('_')}",
                        prefix)
                    self._record(runs)
                    if failures:
                        self._note(f"{failures} {prefix.rstrip('_')} baseline session "
                                   "deletions failed")
        except StartError as error:
            self._note(f"pool app did not start: {error}")

    def _run_bare_fork(self) -> None:
        """Measures the bare fork per case, in a fresh interpreter (see ``barefork``)."""
        assert self.python is not None, "choose_python() comes first"
        print(f"baseline bare fork: {self.args.fork_iterations} iterations", file=sys.stderr,
              flush=True)
        try:
            cost = measure_in_fresh_interpreter(self.python, self.args.fork_iterations, REPO)
        except (RuntimeError, OSError, subprocess.TimeoutExpired) as error:
            self._note(f"bare fork could not be measured: {error}")
            return
        self.figures[BARE_FORK_CPU] = Figure(cost.cpu_ms)
        self.figures[BARE_FORK_WALL] = Figure(cost.wall_ms)

    def clean_up(self) -> None:
        """Deletes the sessions the run created (failures are noted, not fatal)."""
        failures = sum(pool.delete_all() for pool in self.pools.values())
        if failures:
            self._note(f"{failures} session deletions failed")

    def _note(self, text: str) -> None:
        """Records a problem for the report and shows it at once."""
        self.notes.append(text)
        print(f"note: {text}", file=sys.stderr, flush=True)

    def meta(self) -> dict[str, Any]:
        """Returns what a reader needs to interpret the figures."""
        return {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "mode": "start" if self.args.start else "url",
            "base_url": self.target.base_url,
            "commands": service_commands(REPO) if self.args.start else None,
            "scenarios": self.args.scenarios,
            "baselines": self.args.baselines,
            "concurrency": self.args.concurrency,
            "duration_s": self.budget.duration_s,
            "requests": self.budget.requests,
            "warmup": self.budget.warmup,
            "baseline_python": self.python,
            "cpu_requests": self.args.cpu_requests,
            "cpu_source": self.cpu_source,
            "fork_iterations": self.args.fork_iterations,
            "sandbox_python": self.sandbox_python,
            "cpus": os.cpu_count(),
            "load_average_1min": {"start": self.load_at_start, "end": _load_average()},
            "platform": platform.platform(),
            "harness_python": sys.version.split()[0],
            "git_commit": _git_commit(),
            "notes": self.notes,
        }


def _load_average() -> float | None:
    """Returns the 1-minute load average, to show whether other work shared the machine."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def _load_text(load: float | None) -> str:
    """A load average for the report (``?`` where the system has none)."""
    return "?" if load is None else f"{load:.2f}"


def _git_commit() -> str | None:
    """Returns the checked-out commit, to tie figures to the code they measured."""
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True,
                              text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None


def _raise_interrupt(signum: int, frame: object) -> NoReturn:
    """Turns SIGTERM into KeyboardInterrupt so started servers are stopped on the way out."""
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the benchmark; returns the process exit status.

    Returns:
        0 on a completed run; 1 if the service could not be started, or with ``--strict``
        if a target is not met or an operation failed.
    """
    args = build_parser().parse_args(argv)
    budget_from(args)  # validate before starting anything
    signal.signal(signal.SIGTERM, _raise_interrupt)
    workdir = Path(tempfile.mkdtemp(prefix="repl-bench-"))
    try:
        with ExitStack() as stack:
            service: ServiceHandle | None = None
            if args.start:
                print(f"starting the service (logs in {workdir})", file=sys.stderr, flush=True)
                service = stack.enter_context(running_service(REPO, workdir, args.start_timeout))
                base_url = service.base_url
            else:
                base_url = require_loopback(args.url)
                if args.scenarios:
                    wait_ready(f"{base_url}/readyz", [], args.start_timeout)
            target = Target(base_url, args.token, args.http_timeout)
            harness = Harness(args, target, workdir, service)
            try:
                harness.choose_python()
                harness.run_scenarios()
                harness.run_case_cpu()
                harness.run_baselines()
            finally:
                if not harness.service_died:
                    harness.clean_up()
            args.keep_workdir = args.keep_workdir or harness.service_died
    except StartError as error:
        print(f"error: {error}", file=sys.stderr)
        args.keep_workdir = args.keep_workdir or args.start  # keep the logs to look at
        return 1
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        if args.keep_workdir:
            print(f"work directory kept: {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return _report(harness, args)


def _report(harness: Harness, args: argparse.Namespace) -> int:
    """Prints the report, writes the JSON file, and returns the exit status."""
    results = Results(harness.runs, harness.figures)
    verdicts = judge(results)
    earlier = judge(results, EARLIER_TARGETS)
    print(render(results, verdicts, earlier))
    print(f"\nLoad average (1 min) on {os.cpu_count()} CPUs: {_load_text(harness.load_at_start)} at the "
          f"start, {_load_text(_load_average())} at the end (other work shares the machine above "
          f"{os.cpu_count()})")
    if harness.notes:
        print("\nNotes\n" + "\n".join(f"  {note}" for note in harness.notes))
    if args.json is not None:
        args.json.write_text(json.dumps(to_json(results, verdicts, harness.meta(), earlier), indent=2)
                             + "\n", encoding="utf-8")
        print(f"\nraw figures written to {args.json}", file=sys.stderr)
    if args.strict:
        failed = any(v.status != "met" for v in verdicts) or any(r.errors for r in harness.runs)
        return 1 if failed or harness.notes else 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
