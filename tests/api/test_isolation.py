"""`isolation` (docs/api.md §4): the cases of a request in one process ("request", the
default), or each in a fork of a process that ran the module level once ("case"), through
the real service. Limits stay per case in both; a case that must not be followed in its
process ends it, and the next case starts in a new one."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.service import Service

MODES = ("request", "case")


def evaluate(service: Service, code: str, cases: list[tuple[str, str]], session: str = "scratch-iso",
             **extra: Any) -> list[dict[str, Any]]:
    body = {"id": session, "code": code, "entry_point": "f",
            "io_cases": [{"input": i, "output": o} for i, o in cases], **extra}
    response = service.post("/evaluate_code", body)
    assert response.status_code == 200, response.text
    return response.json()["case_results"]


def statuses(results: list[dict[str, Any]]) -> list[str]:
    return [r["status"] for r in results]


@pytest.mark.parametrize("isolation", MODES)
def test_each_case_gets_fresh_globals(service: Service, isolation: str) -> None:
    code = "calls = []\ndef f(x):\n    calls.append(x)\n    return len(calls)\n"
    results = evaluate(service, code, [("1", "1"), ("2", "1"), ("3", "1")], isolation=isolation)
    assert statuses(results) == ["passed"] * 3


def test_process_wide_state_passes_between_cases_of_a_request_only(service: Service) -> None:
    """As in the service this one replaces: one case's environment is the next one's in
    "request" mode; "case" mode gives each case its own copy."""
    code = "import os\ndef f(k):\n    return os.environ.setdefault('FIRST_CASE', str(k))\n"
    cases = [("1", "'1'"), ("2", "'1'")]
    assert statuses(evaluate(service, code, cases)) == ["passed", "passed"]
    assert statuses(evaluate(service, code, cases, isolation="case")) == ["passed", "failed"]
    assert statuses(evaluate(service, code, cases)) == ["passed", "passed"], "nothing passes between requests"


MARK = ("import os\ndef mark():\n    seen = os.environ.get('MARK')\n    os.environ['MARK'] = '1'\n"
        "    return seen\n")
ENDINGS = {
    "crash": ("import signal\n        os.kill(os.getpid(), signal.SIGSEGV)", "crashed"),
    "hang": ("while True:\n            pass", "timeout"),
    "exit": ("raise SystemExit(3)", "error"),
    "exit at once": ("os._exit(0)", "error"),
    "memory": ("x = bytearray(1 << 34)", "memory"),
    "thread left running": ("import threading, time\n        threading.Thread(target=time.sleep, args=(30,), "
                            "daemon=True).start()\n        return 'left'", "failed"),
    "process left running": ("import subprocess\n        subprocess.Popen(['sleep', '30'])\n"
                             "        return 'left'", "failed"),
}


@pytest.mark.parametrize("ending", sorted(ENDINGS))
def test_a_case_that_must_end_its_process_leaves_the_next_case_a_new_one(service: Service, ending: str) -> None:
    """Case 1 crashes, hangs, exits, runs out of memory, or leaves a thread or process
    running: its own status says so, and case 2 runs in a new process (it does not see the
    mark case 0 left in the environment)."""
    action, status = ENDINGS[ending]
    code = MARK + f"def f(k):\n    if k == 1:\n        {action}\n    return mark()\n"
    results = evaluate(service, code, [("0", "None"), ("1", "None"), ("2", "None")], timeout=1, cpu_limit=1,
                       memory_limit_mb=512)
    assert statuses(results) == ["passed", status, "passed"], results


def test_an_exception_does_not_end_the_process(service: Service) -> None:
    code = MARK + "def f(k):\n    if k == 1:\n        raise ValueError('no')\n    return mark()\n"
    results = evaluate(service, code, [("0", "None"), ("1", "None"), ("2", "'1'")])
    assert statuses(results) == ["passed", "error", "passed"], results


@pytest.mark.parametrize("isolation", MODES)
def test_a_case_leaves_nothing_in_tmp_for_the_next(service: Service, isolation: str) -> None:
    code = ("import os\ndef f(k):\n    seen = os.listdir('/tmp')\n"
            "    open(f'/tmp/case-{k}', 'w').write('x')\n    return seen\n")
    results = evaluate(service, code, [("0", "[]"), ("1", "[]"), ("2", "[]")], isolation=isolation)
    assert statuses(results) == ["passed"] * 3, results


@pytest.mark.parametrize("isolation", MODES)
def test_stdout_cpu_and_peak_memory_are_per_case(service: Service, isolation: str) -> None:
    code = ("def f(k):\n    print('case', k)\n    if k == 1:\n        block = bytearray(200 << 20)\n"
            "        block[::4096] = b'x' * len(block[::4096])\n    if k == 2:\n"
            "        sum(range(10_000_000))\n    return k\n")
    results = evaluate(service, code, [("0", "0"), ("1", "1"), ("2", "2")], isolation=isolation)
    assert statuses(results) == ["passed"] * 3, results
    assert [r["stdout"] for r in results] == ["case 0\n", "case 1\n", "case 2\n"]
    peaks = [r["peak_memory_kb"] for r in results]
    assert peaks[1] > 200 << 10 > peaks[2], peaks
    cpu = [r["cpu_ms"] for r in results]
    assert cpu[2] > 5 * max(cpu[0], 1.0), cpu


@pytest.mark.parametrize("isolation", MODES)
def test_the_cpu_limit_holds_though_the_case_raises_its_own(service: Service, isolation: str) -> None:
    """The unit sets a case's soft RLIMIT_CPU; user code may raise it to the hard limit,
    but the init measures the case's CPU from outside and stops it at its limit."""
    code = ("import resource\ndef f(k):\n    if k == 1:\n        hard = resource.getrlimit(resource.RLIMIT_CPU)[1]\n"
            "        resource.setrlimit(resource.RLIMIT_CPU, (hard, hard))\n        while True:\n            pass\n"
            "    return k\n")
    results = evaluate(service, code, [("0", "0"), ("1", "1"), ("2", "2")], isolation=isolation,
                       cpu_limit=0.5, timeout=20)
    assert statuses(results) == ["passed", "timeout", "passed"], results
    assert results[1]["duration_ms"] < 10_000, "stopped by its CPU limit, not by its wall-clock limit"


def test_case_isolation_runs_the_module_level_once(service: Service, session_id: str) -> None:
    """"case": the module level runs once, its output at the start of each case's stdout;
    "request": it runs for every case."""
    service.write(session_id, "count.txt", "")
    code = "print('module')\nopen('count.txt', 'a').write('x')\ndef f(k):\n    print('call', k)\n    return k\n"
    cases = [(str(i), str(i)) for i in range(3)]
    results = evaluate(service, code, cases, session=session_id, isolation="case")
    assert [r["stdout"] for r in results] == [f"module\ncall {i}\n" for i in range(3)]
    assert service.get("/read_file", params={"id": session_id, "rel_path": "count.txt"}).json()["content"] == "x"
    results = evaluate(service, code, cases, session=session_id)
    assert [r["stdout"] for r in results] == [f"module\ncall {i}\n" for i in range(3)]
    assert service.get("/read_file", params={"id": session_id, "rel_path": "count.txt"}).json()["content"] == "xxxx"


@pytest.mark.parametrize("isolation", MODES)
def test_a_module_level_error_is_every_cases_error(service: Service, isolation: str) -> None:
    results = evaluate(service, "raise ImportError('no such thing')\ndef f(k):\n    return k\n",
                       [("0", "0"), ("1", "1")], isolation=isolation)
    assert statuses(results) == ["error", "error"]
    assert all(r["error"].startswith("ImportError: no such thing") for r in results)


@pytest.mark.parametrize("isolation", MODES)
def test_tests_get_fresh_globals_and_survive_a_crash(service: Service, isolation: str) -> None:
    code = ("import os, signal\ncalls = []\ndef f(k):\n    calls.append(k)\n"
            "    if k == 1:\n        os.kill(os.getpid(), signal.SIGSEGV)\n    return len(calls)\n")
    tests = "assert f(0) == 1\nassert f(1) == 1\nassert f(2) == 1\nassert f(3) == 2\n"
    response = service.post("/evaluate_code", {"id": "scratch-iso", "code": code, "entry_point": "f",
                                               "tests": tests, "isolation": isolation})
    assert response.status_code == 200, response.text
    assert statuses(response.json()["case_results"]) == ["passed", "crashed", "passed", "failed"]


def test_isolation_is_refused_for_program_cases(service: Service) -> None:
    response = service.post("/evaluate_code", {"id": "scratch-iso", "code": "print(1)", "isolation": "case",
                                               "io_cases": [{"stdin": "", "stdout": "1"}]})
    assert response.status_code == 422
    assert "each program case" in response.text
    response = service.post("/evaluate_code", {"id": "scratch-iso", "code": "def f():\n    return 1",
                                               "entry_point": "f", "isolation": "thread",
                                               "io_cases": [{"input": "", "output": "1"}]})
    assert response.status_code == 422
