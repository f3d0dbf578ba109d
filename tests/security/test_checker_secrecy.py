"""A checker's secrets (docs/api.md §4.3, §7.7): the solution never sees the checker, its
files, the answer or the case's files, cannot write where the checker reads, and cannot
talk a checker into a verdict; only what it printed or returned reaches the checker."""

from __future__ import annotations

import uuid
from typing import Any

from tests.security.support import hostile, new_session
from tests.support.service import Service

NAIVE_CHECKER = "def check(input, expected, output):\n    return output.strip() == expected.strip(), output\n"


def evaluate(service: Service, name: str, cases: list[tuple[str, str]], checker: dict[str, Any],
             session: str) -> dict[str, Any]:
    body = {"id": session, "code": hostile(name), "io_cases": [{"stdin": i, "stdout": o} for i, o in cases],
            "checker": checker}
    response = service.post("/evaluate_code", body)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_program_finds_neither_the_answer_nor_the_checker(service: Service):
    session = new_session(service)
    planted = f"planted-{uuid.uuid4().hex}"
    service.write(session, "notes/planted.txt", f"the control: {planted}\n")  # where the search looks
    code_secret, file_secret, answer = (f"{kind}-{uuid.uuid4().hex}" for kind in ("code", "file", "answer"))
    checker = {"code": f"# {code_secret}\n{NAIVE_CHECKER}", "files": {"check.py": f"# {file_secret}\n"}}
    cases = [("planted-", planted), ("answer-", answer), ("code-", answer), ("file-", answer)]
    result = evaluate(service, "checker_seek_secrets.py", cases, checker, session)
    control, *attacks = result["case_results"]
    assert control["status"] == "passed", control  # the search works: it finds what is there
    for case in attacks:
        assert case["status"] == "failed" and case["got"] == "nothing\n", case
        assert case["stderr"] == ("list /judge: PermissionError\nread /judge/.answer: PermissionError\n"
                                  "read /judge/.checker.py: PermissionError\nread /judge/check.py: PermissionError\n"
                                  "write /judge/.output: PermissionError\n"), case["stderr"]
    assert result["passed"] is False


def test_a_command_checker_is_as_hidden(service: Service):
    session = new_session(service)
    file_secret, answer = (f"{kind}-{uuid.uuid4().hex}" for kind in ("file", "answer"))
    checker = {"cmd": 'test "$(cat "$2")" = "$(cat "$3")" || exit 1; true',
               "files": {"check.py": f"# {file_secret}\n"}, "compile": "cp check.py compiled.py"}
    result = evaluate(service, "checker_seek_secrets.py", [("answer-", answer), ("file-", answer)], checker, session)
    for case in result["case_results"]:
        assert case["status"] == "failed" and case["got"] == "nothing\n", case


def test_a_program_cannot_write_where_the_checker_reads(service: Service):
    session = new_session(service)
    answer = f"answer-{uuid.uuid4().hex}"
    checker = {"code": "def check(input, expected, output):\n    return output == 'planted\\n', repr(output)\n"}
    result = evaluate(service, "checker_plant_output.py", [("", answer), ("", answer)], checker, session)
    for case in result["case_results"]:
        assert case["status"] == "failed" and case["error"] == "WrongAnswer: 'honest\\n'", case
    planted = service.get("/read_file", params={"id": session, "rel_path": ".output"})
    assert planted.json()["content"] == "planted\n"  # it could write its own files
    listed = {entry["path"] for entry in service.get("/list_files", params={"id": session}).json()["files"]}
    assert "leak.txt" not in listed  # its child never read a file of the checker's


def test_printed_verdicts_do_not_fool_a_checker_that_quotes_them(service: Service):
    session = "scratch-fool-checker"
    quoting = {"code": "def check(input, expected, output):\n    return 0.5, output\n"}
    case = evaluate(service, "checker_fool_verdict.py", [("", "x")], quoting, session)["case_results"][0]
    assert (case["status"], case["score"], case["passed"]) == ("failed", 0.5, False)
    assert case["error"].startswith("PartialScore: 0.5: ok accepted\npoints 1\n")
    naive_command = {"cmd": 'cat "$2" >&2; exit 1'}
    case = evaluate(service, "checker_fool_verdict.py", [("", "x")], naive_command, session)["case_results"][0]
    assert (case["status"], case["score"]) == ("failed", 0.0)
    points_command = {"cmd": "printf 'points 0.25 ' >&2; cat \"$2\" >&2; exit 7"}
    case = evaluate(service, "checker_fool_verdict.py", [("", "x")], points_command, session)["case_results"][0]
    assert (case["status"], case["score"]) == ("failed", 0.25)


def test_a_function_finds_no_checker(service: Service):
    session = new_session(service)
    code_secret = f"code-{uuid.uuid4().hex}"
    checker = {"code": f"# {code_secret}\ndef check(input, expected, output):\n    return output == expected\n"}
    body = {"id": session, "code": hostile("checker_seek_secrets_function.py"), "entry_point": "seek",
            "io_cases": [{"input": "'code-'", "output": "'x'"}, {"input": "'code-'", "output": "'x'"}],
            "checker": checker}
    result = service.post("/evaluate_code", body).json()
    for case in result["case_results"]:
        assert case["status"] == "failed" and case["got"] == "nothing", case


ECHO_INTERACTOR = ("def interact(input, answer, receive, send):\n"
                   "    send(input)\n"
                   "    line = receive()\n"
                   "    return line == answer, line\n")


def test_an_interactive_program_finds_neither_the_answer_nor_the_interactor(service: Service):
    """The interactor runs beside the program, as the same user: not dumpable, it keeps
    its memory, descriptors and /proc entries from the program."""
    session = new_session(service)
    planted = f"planted-{uuid.uuid4().hex}"
    service.write(session, "notes/planted.txt", f"the control: {planted}\n")
    answer, code_secret = f"answer-{uuid.uuid4().hex}", f"code-{uuid.uuid4().hex}"
    body = {"id": session, "code": hostile("interactive_seek_answer.py"),
            "io_cases": [{"stdin": "planted-", "stdout": planted}, {"stdin": "answer-", "stdout": answer},
                         {"stdin": "code-", "stdout": answer}],
            "interactor": {"code": f"# {code_secret}\n{ECHO_INTERACTOR}"}}
    result = service.post("/evaluate_code", body).json()
    control, *attacks = result["case_results"]
    assert control["status"] == "passed", control  # the search works: it finds what is there
    for case in attacks:
        assert case["status"] == "failed" and case["got"] == "nothing\n", case
        assert case["stderr"].startswith("memory opened: []\n"), case["stderr"]


ECHO_C = """/* %s: an interactor in testlib's protocol that sends its input and accepts the answer */
#include <stdio.h>
#include <string.h>
int main(int argc, char **argv) {
    char input[256] = "", answer[256] = "", line[256] = "";
    FILE *in = fopen(argv[1], "r"), *ans = fopen(argv[3], "r");
    if (!in || !ans || !fgets(input, sizeof input, in) || !fgets(answer, sizeof answer, ans)) return 3;
    printf("%%s\\n", input); fflush(stdout);
    if (!fgets(line, sizeof line, stdin)) return 1;
    line[strcspn(line, "\\n")] = 0;
    fprintf(stderr, "%%s", line);
    return strcmp(line, answer) == 0 ? 0 : 1;
}
"""


def test_an_interactive_program_finds_nothing_of_a_compiled_interactor(service: Service):
    """A command interactor (a program its compile step built) runs unreadable, so not
    dumpable, with the input and the answer in memory files of its own."""
    session = new_session(service)
    planted = f"planted-{uuid.uuid4().hex}"
    service.write(session, "notes/planted.txt", f"the control: {planted}\n")
    answer, code_secret = f"answer-{uuid.uuid4().hex}", f"code-{uuid.uuid4().hex}"
    interactor = {"cmd": "./interactor", "compile": "gcc -o interactor echo.c",
                  "files": {"echo.c": ECHO_C % code_secret}}
    body = {"id": session, "code": hostile("interactive_seek_answer.py"),
            "io_cases": [{"stdin": "planted-", "stdout": planted}, {"stdin": "answer-", "stdout": answer},
                         {"stdin": "code-", "stdout": answer}],
            "interactor": interactor}
    result = service.post("/evaluate_code", body).json()
    control, *attacks = result["case_results"]
    assert control["status"] == "passed", control
    for case in attacks:
        assert case["status"] == "failed" and case["got"] == "nothing\n", case
        assert case["stderr"] == ("memory opened: []\nread /judge/interactor: PermissionError\n"
                                  "read /judge/echo.c: PermissionError\n"), case["stderr"]


def test_a_program_that_kills_or_stops_its_interactor_never_passes(service: Service):
    """The interactor runs as the same user, so the program can signal it: that must never
    turn into a pass (a dead interactor is the case's error, a stopped one its timeout)."""
    accept_all = ("def interact(input, answer, receive, send):\n"
                  "    send(input)\n    receive()\n    return True\n")
    body = {"id": "scratch-kill-interactor", "code": hostile("interactive_kill_interactor.py"), "timeout": 2,
            "io_cases": [{"stdin": "kill", "stdout": "1"}, {"stdin": "stop", "stdout": "1"}],
            "interactor": {"code": accept_all}}
    result = service.post("/evaluate_code", body).json()
    killed, stopped = result["case_results"]
    assert killed["status"] == "error" and "killed by signal SIGKILL" in killed["error"], killed
    assert stopped["status"] == "timeout", stopped
    assert result["passed"] is False
