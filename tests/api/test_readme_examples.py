"""The README's curl examples work verbatim (only the port differs)."""

from __future__ import annotations

import subprocess
from pathlib import Path

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
