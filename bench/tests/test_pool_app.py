"""The pool baseline, started for real under gunicorn, answers like the service."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.api import ApiClient, HttpError
from bench.humaneval import check_problem, read_records
from bench.problems import add_problem, check_evaluation, imports_problem, program_problem
from bench.procs import POOL_APP
from bench.servers import pool_env, running_app

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiClient]:
    workdir = tmp_path_factory.mktemp("pool")
    with running_app("pool", POOL_APP, REPO, workdir, 60, pool_env(workdir)) as url:
        client = ApiClient(url)
        client.post("/create_session", {"id": "s1"})
        yield client
        client.close()


def test_passing_problems_pass(api: ApiClient) -> None:
    for problem in (add_problem(1), add_problem(10), imports_problem(10)):
        reply = api.post("/evaluate_code", problem.request("s1"))
        check_evaluation(reply, problem)
        assert [case["got"] for case in reply["case_results"]] == [
            int(case["output"]) for case in problem.cases]


def test_wrong_raising_and_looping_cases_get_their_status(api: ApiClient) -> None:
    code = "def f(x):\n    while x == 2:\n        pass\n    return 10 // x\n"
    cases = [{"input": "5", "output": "2"}, {"input": "5", "output": "3"},
             {"input": "0", "output": "0"}, {"input": "2", "output": "0"}]
    reply = api.post("/evaluate_code", {"id": "s1", "code": code, "entry_point": "f",
                                        "io_cases": cases, "timeout": 1})
    statuses = [case["status"] for case in reply["case_results"]]
    assert statuses == ["passed", "failed", "error", "timeout"]
    assert reply["passed"] is False
    assert reply["case_results"][2]["error"].startswith("ZeroDivisionError")


def test_a_syntax_error_is_reported_at_the_top(api: ApiClient) -> None:
    reply = api.post("/evaluate_code", {"id": "s1", "code": "def f(:", "entry_point": "f",
                                        "io_cases": [{"input": "1", "output": "1"}]})
    assert reply["error"].startswith("SyntaxError")
    assert reply["case_results"][0]["status"] == "error"


def test_run_runs_in_the_session_directory(api: ApiClient) -> None:
    reply = api.post("/run", {"id": "s1", "cmd": "echo hi; basename \"$PWD\""})
    assert reply["exit_code"] == 0 and reply["stdout"] == "hi\ns1\n"
    with pytest.raises(HttpError) as missing:
        api.post("/run", {"id": "nope", "cmd": "true"})
    assert missing.value.status == 400


def test_sessions_are_created_and_deleted(api: ApiClient) -> None:
    assert api.post("/create_session", {"id": "s2"}) == {"id": "s2"}
    assert api.post("/delete_session", {"id": "s2"}) == {"success": True, "id": "s2"}
    with pytest.raises(HttpError) as gone:
        api.post("/delete_session", {"id": "s2"})
    assert gone.value.status == 404
    with pytest.raises(HttpError) as bad:
        api.post("/create_session", {"id": "../escape"})
    assert bad.value.status == 422


def test_program_cases_run_main_py_per_case(api: ApiClient) -> None:
    problem = program_problem(3)
    reply = api.post("/evaluate_code", problem.request("s1"))
    check_evaluation(reply, problem)
    assert [case["stdout"] for case in reply["case_results"]] == ["3\n", "5\n", "7\n"]
    cases = [{"stdin": "1 2\n", "stdout": "4\n"}, {"stdin": "x\n", "stdout": "1\n"},
             {"stdin": "", "stdout": "hi  \n\n"}]
    code = "import sys\ndata = sys.stdin.read()\nprint(sum(map(int, data.split())) if data else 'hi')\n"
    reply = api.post("/evaluate_code", {"id": "s1", "code": code, "io_cases": cases})
    statuses = [case["status"] for case in reply["case_results"]]
    assert statuses == ["failed", "error", "passed"]  # trailing blanks do not count
    assert "ValueError" in reply["case_results"][1]["stderr"]


def test_test_code_mode_calls_check_with_the_entry_point(api: ApiClient) -> None:
    record = read_records()[0]
    problem = check_problem(record)
    check_evaluation(api.post("/evaluate_code", problem.request("s1")), problem)
    wrong = {**problem.request("s1"), "code": record["prompt"] + "    return None\n"}
    reply = api.post("/evaluate_code", wrong)
    assert reply["passed"] is False and reply["case_results"][0]["status"] == "failed"
    assert reply["case_results"][0]["input"] == f"check({record['entry_point']})"
