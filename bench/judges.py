"""What a checker or an interactor costs (docs/api.md §4.3-§4.4): ``python3 -m bench.judges``.

Starts the service from this repository and times sequential ``/evaluate_code`` requests
of 10 cases each, one request at a time, in pairs measured in the same run: the same
cases judged by the service's comparison (the baseline) and by a checker, for program and
function-call cases, and an interactive guessing game against the same program fed its
input. Prints the median latency of each and its ratio to its baseline.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

from bench.servers import running_service

REPO = Path(__file__).resolve().parents[1]
CASES = 10
A_PLUS_B = "a, b = map(int, input().split())\nprint(a + b)"
CHECK_SUM = "def check(input, expected, output):\n    return int(output) == sum(map(int, input.split()))\n"
SAME_FILES = 'test "$(cat "$2")" = "$(cat "$3")" || exit 1; true'  # a command checker: output = answer
ADD = "def add(a, b):\n    return a + b\n"
CHECK_EQUAL = "def check(input, expected, output):\n    return output == expected\n"
GUESS = ("n = int(input())\nlo, hi = 1, n\nwhile lo < hi:\n    mid = (lo + hi + 1) // 2\n"
         "    print('?', mid, flush=True)\n    if input() == '>=':\n        lo = mid\n    else:\n        hi = mid - 1\n"
         "print('!', lo, flush=True)\n")
GUESS_FED = ("secret = 37\nn = int(input())\nlo, hi = 1, n\nwhile lo < hi:\n    mid = (lo + hi + 1) // 2\n"
             "    lo, hi = (mid, hi) if secret >= mid else (lo, mid - 1)\nprint('!', lo)\n")
INTERACTOR = ("def interact(input, answer, receive, send):\n    send(input)\n    while True:\n"
              "        kind, _, value = receive().partition(' ')\n        if kind == '!':\n"
              "            return int(value) == int(answer)\n"
              "        send('>=' if int(answer) >= int(value) else '<')\n")


def bodies() -> dict[str, tuple[str | None, dict[str, Any]]]:
    """name -> (its baseline's name, the request)."""
    program = {"id": "scratch-bench", "code": A_PLUS_B,
               "io_cases": [{"stdin": f"{i} {i}", "stdout": str(2 * i)} for i in range(CASES)]}
    function = {"id": "scratch-bench", "code": ADD, "entry_point": "add",
                "io_cases": [{"input": f"{i}, {i}", "output": str(2 * i)} for i in range(CASES)]}
    games = [{"stdin": "100", "stdout": "37"}] * CASES
    return {
        "program": (None, program),
        "program + Python checker": ("program", {**program, "checker": {"code": CHECK_SUM}}),
        "program + command checker": ("program", {**program, "checker": {"cmd": SAME_FILES}}),
        "function": (None, function),
        "function + Python checker": ("function", {**function, "checker": {"code": CHECK_EQUAL}}),
        "guessing game, fed its input": (None, {"id": "scratch-bench", "code": GUESS_FED, "io_cases": [
            {"stdin": "100", "stdout": "! 37"}] * CASES}),
        "guessing game + Python interactor": ("guessing game, fed its input", {
            "id": "scratch-bench", "code": GUESS, "io_cases": games, "interactor": {"code": INTERACTOR}}),
    }


def measure(url: str, body: dict[str, Any], rounds: int) -> float:
    """The median seconds of `rounds` requests of `body` (after one to warm up)."""
    seconds = []
    for index in range(rounds + 1):
        started = time.perf_counter()
        reply = requests.post(f"{url}/evaluate_code", json=body, timeout=120)
        elapsed = time.perf_counter() - started
        reply.raise_for_status()
        if not reply.json()["passed"]:
            raise SystemExit(f"a benchmark request did not pass: {reply.text[:500]}")
        if index:
            seconds.append(elapsed)
    return statistics.median(seconds)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="requests per figure (default 20)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-judges-") as workdir, \
            running_service(REPO, Path(workdir), timeout=60) as service:
        medians: dict[str, float] = {}
        print(f"{'request (10 cases)':<36} {'median':>9} {'ratio':>7}  baseline")
        for name, (baseline, body) in bodies().items():
            medians[name] = measure(service.base_url, body, args.rounds)
            ratio = f"{medians[name] / medians[baseline]:.2f}x" if baseline else ""
            print(f"{name:<36} {medians[name] * 1000:>7.1f}ms {ratio:>7}  {baseline or ''}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
