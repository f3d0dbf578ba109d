"""/evaluate_code with program (stdin/stdout) cases against the real sandbox (docs/api.md
§4, "Program cases"): Python and Prolog programs, `compile`, every `compare` mode at its
edges, how a program can fail, and the request rules."""

from __future__ import annotations

import shutil
from typing import Any

import pytest

from tests.support.service import Service

ECHO = "import sys\nsys.stdout.write(sys.stdin.read())"  # prints its stdin as it is
A_PLUS_B = "a, b = map(int, input().split())\nprint(a + b)"
PROLOG = "main :- read(X), Y is X * 2, write(Y), nl.\n"


def evaluate(service: Service, code: str, cases: list[tuple[str, str]], session: str = "scratch-p",
             **extra: Any) -> dict[str, Any]:
    body = {"id": session, "code": code, "io_cases": [{"stdin": i, "stdout": o} for i, o in cases], **extra}
    response = service.post("/evaluate_code", body)
    assert response.status_code == 200, response.text
    return response.json()


def statuses(result: dict[str, Any]) -> list[str]:
    return [case["status"] for case in result["case_results"]]


# --- programs --------------------------------------------------------------------------

def test_a_plus_b(service: Service):
    result = evaluate(service, A_PLUS_B, [("1 2\n", "3\n"), ("40 2", "42"), ("2 2", "5")])
    assert statuses(result) == ["passed", "passed", "failed"]
    assert result["passed"] is False and result["error"] is None
    case = result["case_results"][2]
    assert case == {**case, "case": 2, "input": "2 2", "passed": False, "got": "4\n", "expected": "5",
                    "stdout": "4\n", "stderr": "", "error": None}
    assert case["cpu_ms"] > 0 and case["peak_memory_kb"] > 0 and case["duration_ms"] > 0


def test_a_multi_line_program(service: Service):
    code = ("import sys\n"
            "n = int(sys.stdin.readline())\n"
            "for _ in range(n):\n"
            "    print(' '.join(reversed(sys.stdin.readline().split())))\n"
            "print('done', file=sys.stderr)")
    result = evaluate(service, code, [("2\na b c\nd e\n", "c b a\ne d\n"), ("1\nx y\n", "x y\n")])
    assert statuses(result) == ["passed", "failed"]
    assert result["case_results"][0]["stderr"] == "done\n"


def test_all_passing_passes(service: Service):
    result = evaluate(service, A_PLUS_B, [("1 2", "3"), ("2 3", "5")])
    assert result["passed"] is True and statuses(result) == ["passed", "passed"]


def test_a_prolog_program_through_cmd(service: Service):
    result = evaluate(service, PROLOG, [("21.", "42"), ("1.", "3")], main_file="main.pl",
                      cmd='swipl -g main -t halt "$PROGRAM"')
    assert statuses(result) == ["passed", "failed"], result
    assert result["case_results"][1]["got"] == "2\n"


def test_a_prolog_program_compiled_once(service: Service, session_id: str):
    result = evaluate(service, PROLOG, [("21.", "42"), ("5.", "10")], session=session_id, main_file="main.pl",
                      compile='swipl -o prog -c "$PROGRAM" --goal=main --toplevel=halt', cmd="./prog")
    assert statuses(result) == ["passed", "passed"], result
    # The compiler's output is a file of the session, by design; the code is not.
    files = {f["path"] for f in service.get("/list_files", params={"id": session_id}).json()["files"]}
    assert files == {"hello.txt", "prog"}


@pytest.mark.skipif(shutil.which("gcc") is None, reason="no C compiler on this machine")
def test_a_c_program(service: Service):
    code = '#include <stdio.h>\nint main(void) { long a, b; scanf("%ld %ld", &a, &b); printf("%ld\\n", a + b); }\n'
    result = evaluate(service, code, [("1 2", "3"), ("5 5", "11")], main_file="main.c",
                      compile='gcc -O0 -o prog "$PROGRAM"', cmd="./prog")
    assert statuses(result) == ["passed", "failed"], result


def test_the_code_is_read_only_and_no_session_file(service: Service, session_id: str):
    code = ("import os, sys\n"
            "print(sorted(os.listdir('.')), sys.argv[0] == os.environ['PROGRAM'])\n"
            "try:\n    open(__file__, 'a')\nexcept OSError as exc:\n    print(type(exc).__name__)\n")
    result = evaluate(service, code, [("", "['hello.txt'] True\nOSError\n")], session=session_id)
    assert statuses(result) == ["passed"], result
    assert service.run(session_id, "ls")["stdout"] == "hello.txt\n"


def test_no_case_sees_another(service: Service, session_id: str):
    code = ("import os\n"
            "print('seen' if os.path.exists('/tmp/mark') else 'fresh')\n"
            "open('/tmp/mark', 'w').close()\n"
            "os.system('sleep 30 &')\n")
    result = evaluate(service, code, [("", "fresh")] * 3, session=session_id)
    assert statuses(result) == ["passed"] * 3, result
    assert "sleep" not in service.run(session_id, "ps -eo comm")["stdout"]


def test_a_scratch_evaluation_discards_what_compile_made(service: Service):
    for _ in range(2):
        result = evaluate(service, "print(open('made.txt').read())", [("", "made")], session="scratch-never-made",
                          compile="test ! -e made.txt && echo made > made.txt")
        assert statuses(result) == ["passed"], result


# --- compare ---------------------------------------------------------------------------

@pytest.mark.parametrize(("mode", "printed", "expected", "status"), [
    ("lines", "1 2  \n3\t\n", "1 2\n3", "passed"),        # trailing spaces and tabs
    ("lines", "1\n2\n\n\n", "1\n2", "passed"),            # trailing empty lines
    ("lines", "1\n2", "1\n2\n\n", "passed"),              # ... on either side
    ("lines", "1\r\n2\r\n", "1\n2\n", "passed"),          # CRLF
    ("lines", " 1\n2", "1\n2", "failed"),                 # leading space counts
    ("lines", "1\n\n2", "1\n2", "failed"),                # an empty line inside counts
    ("lines", "1 2", "1  2", "failed"),                   # so do spaces inside a line
    ("lines", "", "", "passed"),
    ("exact", "1\n2\n", "1\n2\n", "passed"),
    ("exact", "1\n2\n", "1\n2", "failed"),                # a trailing newline counts
    ("exact", "1 \n", "1\n", "failed"),
    ("exact", "1\r\n", "1\n", "failed"),
    ("tokens", "1\n2   3\t4\n\n", "1 2 3 4", "passed"),    # any whitespace splits
    ("tokens", "12 3", "1 23", "failed"),
    ("tokens", "1 2", "1 2 3", "failed"),
    ("tokens", "1.0", "1", "failed"),                     # tokens are text
    ("tokens", "1\u00a02", "1 2", "failed"),              # ASCII whitespace splits, a no-break space does not
    ("float", "0.3333333", "0.333333333", "passed"),     # within the default 1e-6
    ("float", "1.0 abc\n2", "1 abc 2.0000001", "passed"),  # numbers and words together
    ("float", "0.34", "0.33", "failed"),
    ("float", "1e-7", "0", "passed"),                     # the absolute tolerance near zero
    ("float", "1.5 x", "1.5 y", "failed"),               # a non-numeric token must be the same text
    ("float", "abc", "1.0", "failed"),
    ("float", "nan", "nan", "passed"),                    # NaN and inf: as text
    ("float", "nan", "0.5", "failed"),
    ("float", "inf", "1e308", "failed"),
    ("float", "1e400", "2e400", "failed"),                # past float range: only the same text
    ("float", "0x10", "16", "failed"),                    # only decimal numbers are numbers
    ("float", "\uff11\uff12 3.5", "12 3.5", "failed"),        # ... written in ASCII digits: not fullwidth
    ("float", "\u0661\u0662 3.5", "12 3.5", "failed"),        # ... nor Arabic-Indic
    ("float", "12 3.5", "\uff11\uff12 3.5", "failed"),        # on either side
    ("float", "\uff11\uff12 3.5", "\uff11\uff12 3.5", "passed"),  # the same text is still the same token
    ("float", "12.0000001 3.5", "12 3.5", "passed"),      # the control: ASCII digits within tolerance
    ("float", "1 2", "1 2 3", "failed"),
])
def test_compare_at_its_edges(service: Service, mode: str, printed: str, expected: str, status: str):
    result = evaluate(service, ECHO, [(printed, expected)], compare=mode)
    assert statuses(result) == [status], result


def test_lines_is_the_default(service: Service):
    assert statuses(evaluate(service, ECHO, [("1  \n\n", "1"), ("1 ", "1 1")])) == ["passed", "failed"]


def test_float_tolerances_can_be_set(service: Service):
    cases = [("0.34", "0.33"), ("100.5", "100")]
    assert statuses(evaluate(service, ECHO, cases, compare="float")) == ["failed", "failed"]
    assert statuses(evaluate(service, ECHO, cases, compare="float", abs_tol=0.05, rel_tol=0)) == ["passed", "failed"]
    assert statuses(evaluate(service, ECHO, cases, compare="float", rel_tol=0.01, abs_tol=0)) == ["failed", "passed"]


def test_output_that_is_not_utf8_never_matches(service: Service):
    code = "import sys\nsys.stdout.buffer.write(b'\\xff\\n')"
    result = evaluate(service, code, [("", "\ufffd\n")], compare="exact")
    assert statuses(result) == ["failed"] and result["case_results"][0]["got"] == "\ufffd\n"


def test_a_long_expected_output_can_pass_and_got_is_capped(service: Service):
    result = evaluate(service, "print('x' * 100000)", [("", "x" * 100000)])
    assert statuses(result) == ["passed"], result["case_results"][0]["error"]
    assert len(result["case_results"][0]["got"]) == 64 << 10


def test_output_past_the_limit_fails(service: Service):
    result = evaluate(service, "print('x' * 1000000)", [("", "x")])
    case = result["case_results"][0]
    assert case["status"] == "output_limit" and case["error"].startswith("OutputLimitExceeded"), case
    assert case["passed"] is False and case["score"] == 0.0


# --- failures --------------------------------------------------------------------------

def test_a_non_zero_exit_is_an_error_with_stderr(service: Service):
    code = "import sys\nprint(3)\nsys.stderr.write('something broke\\n')\nsys.exit(3)"
    case = evaluate(service, code, [("", "3")])["case_results"][0]
    assert case["status"] == "error" and case["passed"] is False
    assert case["error"] == "ProcessExit: the program exited with status 3\nsomething broke"
    assert case["stderr"] == "something broke\n" and case["got"] == "3\n"


def test_an_exception_is_an_error_with_its_traceback(service: Service):
    case = evaluate(service, "print(1)\n1 / 0", [("", "1")])["case_results"][0]
    assert case["status"] == "error"
    assert case["error"].endswith("ZeroDivisionError: division by zero") and "main.py" in case["error"]


def test_a_syntax_error_fails_each_case(service: Service):
    result = evaluate(service, "def (:", [("", ""), ("", "")])
    assert statuses(result) == ["error", "error"]
    assert "SyntaxError" in result["case_results"][0]["error"]


def test_timeouts_wall_and_cpu(service: Service):
    result = evaluate(service, "while True:\n    pass", [("", "")], timeout=1, cpu_limit=0.5)
    assert statuses(result) == ["timeout"] and result["case_results"][0]["error"] == "Timeout"
    result = evaluate(service, "import time\ntime.sleep(30)", [("", "")], timeout=1)
    assert statuses(result) == ["timeout"]
    assert result["case_results"][0]["duration_ms"] < 5000


def test_a_program_waiting_for_more_input_gets_eof(service: Service):
    result = evaluate(service, "import sys\nprint(len(sys.stdin.read()))", [("abc", "3")], timeout=2)
    assert statuses(result) == ["passed"]


def test_a_crash_names_the_signal(service: Service):
    case = evaluate(service, "import os\nos.kill(os.getpid(), 11)", [("", "")])["case_results"][0]
    assert case["status"] == "crashed" and "SIGSEGV" in case["error"]


def test_running_out_of_memory(service: Service):
    case = evaluate(service, "x = bytearray(1 << 30)", [("", "")], memory_limit_mb=256)["case_results"][0]
    assert case["status"] == "memory" and "MemoryError" in case["error"], case


def test_stop_on_first_failure(service: Service):
    result = evaluate(service, A_PLUS_B, [("1 1", "2"), ("1 x", "2"), ("2 2", "4"), ("3 3", "6")],
                      stop_on_first_failure=True)
    assert statuses(result) == ["passed", "error", "skipped", "skipped"]
    skipped = result["case_results"][3]
    assert skipped == {**skipped, "case": 3, "input": "3 3", "passed": False, "got": None, "expected": "6",
                       "error": None, "stdout": ""}


def test_a_failed_compile_fails_every_case(service: Service):
    result = evaluate(service, "x", [("", ""), ("", "")], compile="echo 'main.x:1: no' >&2; exit 2",
                      stop_on_first_failure=True)
    assert result["passed"] is False
    assert result["error"] == "CompileError: the compile command exited with status 2\nmain.x:1: no"
    assert statuses(result) == ["error", "error"]
    assert {case["error"] for case in result["case_results"]} == {result["error"]}


def test_a_compile_that_hangs_is_a_compile_error(service: Service):
    result = evaluate(service, "x", [("", "")], compile="sleep 30", timeout=1)
    assert result["error"] == "CompileError: the compile command timed out"


# --- the request -------------------------------------------------------------------------

@pytest.mark.parametrize(("body", "detail"), [
    ({"entry_point": "f", "io_cases": [{"input": "1", "output": "1"}, {"stdin": "1", "stdout": "1"}]},
     "mixes function-call cases"),
    ({"io_cases": [{"input": "1", "stdout": "1"}]}, "not both"),
    ({"io_cases": [{"stdin": "1"}]}, "\"missing\",\"loc\":[\"body\",\"io_cases\",0,\"stdout\"]"),
    ({"io_cases": [{"input": "1", "output": "1"}]}, "entry_point is required"),
    ({"entry_point": "f", "cmd": "true", "io_cases": [{"input": "1", "output": "1"}]}, "cmd: for program cases"),
    ({"io_cases": [{"stdin": "", "stdout": ""}], "float_tolerance": 0.1}, "compare: float"),
    ({"io_cases": [{"stdin": "", "stdout": ""}], "rel_tol": 0.1}, "compare: float only"),
    ({"io_cases": [{"stdin": "", "stdout": ""}], "compare": "fuzzy"}, "compare"),
    ({"io_cases": [{"stdin": "", "stdout": ""}], "compare": "float", "abs_tol": -1}, "abs_tol"),
    ({"io_cases": [{"stdin": "", "stdout": ""}], "main_file": "../x.py"}, "main_file"),
    ({"io_cases": [{"stdin": "", "stdout": ""}], "cmd": "a\u0000b"}, "NUL"),
])
def test_a_malformed_request_is_422(service: Service, body: dict[str, Any], detail: str):
    response = service.post("/evaluate_code", {"id": "scratch-p", "code": "x", **body})
    assert response.status_code == 422, response.text
    assert detail in response.text


def test_stderr_is_a_field_of_program_cases_only(service: Service):
    function = service.evaluate("def f():\n    return 1", "f", [("", "1")])["case_results"][0]
    program = evaluate(service, "print(1)", [("", "1")])["case_results"][0]
    assert "stderr" not in function and program["stderr"] == ""


def test_entry_point_is_ignored_by_program_cases(service: Service):
    assert statuses(evaluate(service, A_PLUS_B, [("1 2", "3")], entry_point="whatever")) == ["passed"]


def test_cpu_ms_counts_a_child_the_program_left_running(service: Service):
    """A program's child killed with it at the deadline counts in the case's CPU time."""
    code = ("import os, time\nif os.fork() == 0:\n    while True:\n        pass\n"
            "time.sleep(5)\n")
    result = evaluate(service, code, [("", "")], timeout=1.5, cpu_limit=10)
    (case,) = result["case_results"]
    assert case["status"] == "timeout" and case["cpu_ms"] > 200, case
