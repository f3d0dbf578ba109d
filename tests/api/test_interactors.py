"""/evaluate_code with an `interactor` (docs/api.md §4.4) against the real sandbox: a
guessing game played by a correct program, one that asks too many questions, one that
never answers, one that floods, and interactors that fail."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.service import Service

INTERACTOR = {"code": (Path(__file__).parent / "checkers" / "guessing_game.py").read_text()}

BINARY_SEARCH = """n = int(input())
lo, hi = 1, n
while lo < hi:
    mid = (lo + hi + 1) // 2
    print("?", mid, flush=True)
    if input() == ">=":
        lo = mid
    else:
        hi = mid - 1
print("!", lo, flush=True)
"""
LINEAR_SCAN = """n = int(input())
for x in range(2, n + 1):
    print("?", x, flush=True)
    if input() == "<":
        print("!", x - 1, flush=True)
        break
else:
    print("!", n, flush=True)
"""
NEVER_ANSWERS = "n = int(input())\nimport sys\nsys.stdin.read()\n"
FLOODS = "import sys\nn = int(input())\nwhile True:\n    sys.stdout.write('? 1\\n' * 1000)\n"
C_BINARY_SEARCH = """#include <stdio.h>
#include <string.h>
int main(void) {
    int n; char reply[8];
    scanf("%d", &n);
    int lo = 1, hi = n;
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        printf("? %d\\n", mid); fflush(stdout);
        scanf("%7s", reply);
        if (strcmp(reply, ">=") == 0) lo = mid; else hi = mid - 1;
    }
    printf("! %d\\n", lo); fflush(stdout);
    return 0;
}
"""
GAMES = [("100", "37"), ("100", "1"), ("100", "100"), ("1", "1"), ("2", "2"), ("1000", "999")]


def play(service: Service, code: str, games: list[tuple[str, str]], interactor: dict[str, Any] | None = None,
         **extra: Any) -> dict[str, Any]:
    body = {"id": "scratch-interactors", "code": code, "io_cases": [{"stdin": n, "stdout": s} for n, s in games],
            "interactor": interactor or INTERACTOR, **extra}
    response = service.post("/evaluate_code", body)
    assert response.status_code == 200, response.text
    return response.json()


def statuses(result: dict[str, Any]) -> list[str]:
    return [case["status"] for case in result["case_results"]]


def test_a_binary_search_wins_every_game(service: Service):
    result = play(service, BINARY_SEARCH, GAMES)
    assert statuses(result) == ["passed"] * len(GAMES) and result["passed"] is True, result
    first = result["case_results"][0]
    assert first["got"].startswith("? 51\n? ") and first["got"].endswith("! 37\n")
    assert first["score"] == 1.0 and first["error"] is None and first["expected"] == "37"


def test_a_c_program_plays_too(service: Service):
    result = play(service, C_BINARY_SEARCH, GAMES[:3], main_file="main.c",
                  cmd="gcc -O2 -o /tmp/main $PROGRAM && /tmp/main")
    assert statuses(result) == ["passed"] * 3, result


def test_asking_too_many_questions_loses(service: Service):
    result = play(service, LINEAR_SCAN, [("100", "37"), ("100", "3")])
    assert statuses(result) == ["failed", "passed"]
    assert result["case_results"][0]["error"] == "WrongAnswer: more than 7 queries"
    assert result["case_results"][0]["score"] == 0.0


def test_a_wrong_guess_loses(service: Service):
    result = play(service, "n = int(input())\nprint('!', n, flush=True)\n", [("100", "37"), ("100", "100")])
    assert statuses(result) == ["failed", "passed"]
    assert result["case_results"][0]["error"] == "WrongAnswer: answered 100 after 0 queries"


def test_a_program_that_never_answers_is_a_timeout(service: Service):
    result = play(service, NEVER_ANSWERS, [("100", "37")], timeout=1)
    assert statuses(result) == ["timeout"] and result["case_results"][0]["error"] == "Timeout"
    assert result["case_results"][0]["duration_ms"] < 3000


def test_a_program_that_floods_loses_at_once(service: Service):
    result = play(service, FLOODS, [("100", "37")], timeout=5)
    case = result["case_results"][0]
    assert case["status"] == "failed" and case["error"] == "WrongAnswer: more than 7 queries", case
    assert case["duration_ms"] < 3000
    assert len(case["got"]) <= 64 << 10  # what is shown is capped


def test_a_program_that_floods_one_endless_line_loses(service: Service):
    flood = "import sys\nn = int(input())\nwhile True:\n    sys.stdout.write('9' * 65536)\n"
    case = play(service, flood, [("100", "37")], timeout=10)["case_results"][0]
    assert case["status"] == "failed", case
    assert case["error"] == ("WrongAnswer: the program stopped talking: ProgramMisbehaved: "
                             "a line longer than 1048576 bytes")


def test_a_program_that_stops_early_loses(service: Service):
    result = play(service, "n = int(input())\nprint('? 2', flush=True)\n", [("100", "37")])
    case = result["case_results"][0]
    assert case["status"] == "failed"
    assert case["error"] == "WrongAnswer: the program stopped talking: EOFError: the program's output ended"


def test_a_program_must_end_well_after_winning(service: Service):
    result = play(service, BINARY_SEARCH + "raise SystemExit(3)\n", [("100", "37")])
    case = result["case_results"][0]
    assert case["status"] == "error" and "status 3" in case["error"], case
    result = play(service, BINARY_SEARCH + "import time\ntime.sleep(30)\n", [("100", "37")], timeout=1)
    assert statuses(result) == ["timeout"]


def test_stdin_is_the_interactors_not_the_programs(service: Service):
    echo = "import sys\nprint(repr(sys.stdin.readline()), flush=True)\n"
    checker = {"code": "def interact(input, answer, receive, send):\n"
                       "    send('hello')\n    return False, receive()\n"}
    result = play(service, echo, [("the input", "the answer")], interactor=checker)
    assert result["case_results"][0]["error"] == "WrongAnswer: 'hello\\n'"


@pytest.mark.parametrize("code, error", [
    ("def interact(input, answer, receive, send):\n    raise ValueError('broken')\n",
     "CheckerError: the interactor reported a failure (exit status 3)\ninteract raised"),
    ("def interact(input, answer, receive, send):\n    return 'maybe'\n",
     "CheckerError: the interactor reported a failure (exit status 3)\ninteract returned 'maybe'"),
    ("def talk(input, answer, receive, send):\n    return True\n",
     "CheckerError: the interactor reported a failure (exit status 3)\nTraceback"),
    ("import os, signal\ndef interact(input, answer, receive, send):\n    os.kill(os.getpid(), signal.SIGSEGV)\n",
     "CheckerError: the interactor was killed by signal SIGSEGV"),
])
def test_a_failing_interactor_makes_the_case_an_error(service: Service, code: str, error: str):
    result = play(service, BINARY_SEARCH, [("100", "37")], interactor={"code": code})
    case = result["case_results"][0]
    assert case["status"] == "error" and case["error"].startswith(error), case
    assert result["passed"] is False


def test_an_interactor_that_hangs_is_a_timeout(service: Service):
    code = "def interact(input, answer, receive, send):\n    while True:\n        pass\n"
    result = play(service, BINARY_SEARCH, [("100", "37")], interactor={"code": code}, timeout=1)
    assert statuses(result) == ["timeout"]


def test_partial_credit_from_an_interactor(service: Service):
    code = "def interact(input, answer, receive, send):\n    return 0.5, 'half'\n"
    case = play(service, "print(1)", [("1", "1")], interactor={"code": code})["case_results"][0]
    assert (case["status"], case["score"], case["error"]) == ("failed", 0.5, "PartialScore: 0.5: half")


@pytest.mark.parametrize("code, status", [
    ("print(1, flush=True)\nraise SystemExit(3)\n", "error"),
    ("import os, signal\nprint(1, flush=True)\nos.kill(os.getpid(), signal.SIGSEGV)\n", "crashed"),
])
def test_a_program_that_ends_badly_keeps_no_partial_credit(service: Service, code: str, status: str):
    """As with a pass: credit needs the program to have ended well; a crash earns nothing."""
    interactor = {"code": "def interact(input, answer, receive, send):\n    receive()\n    return 0.5, 'half'\n"}
    result = play(service, code, [("1", "1")], interactor=interactor)
    case = result["case_results"][0]
    assert (case["status"], case["score"], result["score"]) == (status, 0.0, 0.0), case


API_DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def test_the_documented_interactor_example_answers_as_written(service: Service):
    block = API_DOC.read_text().split("### 4.4 Interactive problems", 1)[1].split("```json", 1)[1].split("```", 1)[0]
    response = service.post("/evaluate_code", json.loads(block))
    assert response.status_code == 200, response.text
    assert statuses(response.json()) == ["passed", "failed"]


PROGRAM = {"id": "scratch-interactors", "code": "print(1)", "io_cases": [{"stdin": "", "stdout": "1"}]}
INTERACT = "def interact(input, answer, receive, send):\n    return True\n"


@pytest.mark.parametrize("body, says", [
    ({"id": "s", "code": "def f():\n    return 1\n", "entry_point": "f", "io_cases": [{"input": "", "output": "1"}],
      "interactor": {"code": INTERACT}}, "an interactor talks to a program"),
    ({**PROGRAM, "interactor": {"code": INTERACT}, "checker": {"code": INTERACT}}, "cannot be combined with a checker"),
    ({**PROGRAM, "interactor": {"code": INTERACT}, "compare": "exact"}, "compare: an interactor decides"),
    ({**PROGRAM, "interactor": {"cmd": "/usr/bin/python3 i.py"}}, "interactor.cmd is a program of the interactor"),
    ({**PROGRAM, "interactor": {"cmd": "./i $HOME"}}, "interactor.cmd is a program of the interactor"),
    ({**PROGRAM, "interactor": {"cmd": "./i 'a"}}, "interactor.cmd: No closing quotation"),
    ({**PROGRAM, "interactor": {"code": INTERACT, "files": {"a": ""}}}, "an interactor's code comes alone"),
    ({**PROGRAM, "interactor": {"code": INTERACT, "cmd": "x"}}, "give exactly one of code"),
    ({**PROGRAM, "interactor": {"code": INTERACT, "timeout": 99}}, "at most 30.0 s"),
])
def test_a_bad_interactor_is_refused_saying_why(service: Service, body: dict[str, Any], says: str):
    response = service.post("/evaluate_code", body)
    assert response.status_code == 422, response.text
    assert says in response.text, response.text


# --- an interactor in testlib's protocol, compiled with gcc ---------------------------------

def c_interactor(**extra: Any) -> dict[str, Any]:
    return {"cmd": "./interactor", "compile": "gcc -O2 -o interactor guessing_game.c",
            "files": {"guessing_game.c": (Path(__file__).parent / "checkers" / "guessing_game.c").read_text()},
            **extra}


def test_a_c_interactor_plays_the_game(service: Service):
    result = play(service, BINARY_SEARCH, GAMES, interactor=c_interactor())
    assert statuses(result) == ["passed"] * len(GAMES), result
    result = play(service, LINEAR_SCAN, [("100", "37")], interactor=c_interactor())
    assert result["case_results"][0]["error"] == "WrongAnswer: more than 7 queries"
    result = play(service, FLOODS, [("100", "37")], interactor=c_interactor())
    assert result["case_results"][0]["error"] == "WrongAnswer: more than 7 queries"
    result = play(service, "input()\nprint('what?', flush=True)\n", [("100", "37")],
                  interactor=c_interactor())
    assert result["case_results"][0]["error"] == "PresentationError: not a query or an answer after 0 queries"
    result = play(service, NEVER_ANSWERS, [("100", "37")], interactor=c_interactor(), timeout=1)
    assert statuses(result) == ["timeout"]


def test_an_interactor_that_does_not_compile_fails_every_case(service: Service):
    result = play(service, BINARY_SEARCH, GAMES[:2], interactor={"cmd": "./interactor", "compile": "gcc x.c"})
    assert statuses(result) == ["error", "error"]
    assert result["case_results"][0]["error"].startswith("CheckerError: the interactor's compile step failed")


@pytest.mark.parametrize("cmd, compile, why", [
    ("./link", "ln -s /usr/bin/python3 link", "is a link out of its directory"),
    ("./script", "printf '#!/bin/sh\\necho 1\\n' > script && chmod 755 script", "is no compiled program"),
    ("./missing", "true", "does not exist"),
])
def test_an_interactor_program_must_be_one_it_built(service: Service, cmd: str, compile: str, why: str):
    result = play(service, BINARY_SEARCH, [("100", "37"), ("100", "1")], interactor={"cmd": cmd, "compile": compile})
    assert statuses(result) == ["error", "error"]
    error = result["case_results"][0]["error"]
    assert error.startswith(f"CheckerError: the interactor's program {cmd!r} {why}"), error
