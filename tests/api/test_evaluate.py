"""/evaluate_code against the real sandbox (docs/api.md §4)."""

from __future__ import annotations

import pytest

from tests.support.service import Service

ADD = "def add(a, b):\n    return a + b"


def statuses(result):
    return [case["status"] for case in result["case_results"]]


def test_passing_failing_and_keyword_cases(service: Service):
    result = service.evaluate(ADD, "add", [("1, 2", "3"), ("a=2, b=2", "5"), ("'x', b='y'", "'xy'")])
    assert result["passed"] is False and result["error"] is None
    assert statuses(result) == ["passed", "failed", "passed"]
    first, second, _ = result["case_results"]
    assert first == {**first, "case": 0, "input": "1, 2", "passed": True, "got": 3, "expected": 3, "error": None}
    assert second["got"] == 4 and second["expected"] == 5 and second["passed"] is False
    assert all(case["duration_ms"] > 0 for case in result["case_results"])


def test_all_passing_is_passed(service: Service):
    assert service.evaluate(ADD, "add", [("1, 2", "3"), ("0, 0", "0")])["passed"] is True


def test_syntax_error_is_top_level_and_on_every_case(service: Service):
    result = service.evaluate("def add(a, b)\n    return a + b", "add", [("1, 2", "3"), ("2, 2", "4")])
    assert result["passed"] is False
    assert result["error"].startswith("SyntaxError")
    assert [c["error"] for c in result["case_results"]] == [result["error"]] * 2
    assert statuses(result) == ["error", "error"]


def test_import_time_errors_and_undefined_entry_points_are_per_case(service: Service):
    raising = service.evaluate("raise RuntimeError('at import')\ndef f():\n    return 1", "f", [("", "1")])
    assert raising["error"] is None
    assert raising["case_results"][0]["error"].startswith("RuntimeError: at import\n")
    missing = service.evaluate(ADD, "nope", [("1, 2", "3")])
    assert missing["error"] is None and missing["case_results"][0]["error"].startswith("NameError")


def test_exceptions_and_system_exit_are_errors_with_traceback(service: Service):
    code = "import sys\ndef f(x):\n    if x:\n        sys.exit(2)\n    return 1 / x"
    result = service.evaluate(code, "f", [("0", "0"), ("1", "None")])
    zero, exit_ = result["case_results"]
    assert zero["status"] == "error" and zero["error"].startswith("ZeroDivisionError: division by zero\n")
    assert "Traceback" in zero["error"] and "<solution>" in zero["error"]
    assert exit_["status"] == "error" and exit_["error"].startswith("SystemExit: 2")
    assert result["passed"] is False


def test_main_block_does_not_run(service: Service):
    code = "import os\nif __name__ == '__main__':\n    raise SystemExit('main ran')\ndef f():\n    return __name__"
    result = service.evaluate(code, "f", [("", "'solution'")])
    assert result["passed"] is True, result


def test_one_parameter_tuple_rule_and_methods(service: Service):
    code = ("def total(nums):\n    return sum(nums)\n"
            "class Solution:\n    def twoSum(self, nums, target):\n"
            "        seen = {}\n        for i, n in enumerate(nums):\n"
            "            if target - n in seen:\n                return [seen[target - n], i]\n"
            "            seen[n] = i\n")
    assert service.evaluate(code, "total", [("1, 2, 3", "6"), ("[4, 5]", "9")])["passed"] is True
    result = service.evaluate(code, "Solution().twoSum", [("[2, 7, 11, 15], 9", "[0, 1]"),
                                                            ("nums=[3, 3], target=6", "[0, 1]")])
    assert result["passed"] is True, result
    assert service.evaluate(code, "Solution.twoSum", [("[3, 2, 4], 6", "[1, 2]")])["passed"] is True


def test_expressions_in_input_and_output(service: Service):
    code = "def ident(x):\n    return x\nLIMIT = 10"
    result = service.evaluate(code, "ident", [("float('inf')", "float('inf')"), ("set()", "set()"),
                                              ("LIMIT * 2", "20"), ("(1, 2)", "(1, 2)")])
    assert result["passed"] is True, result
    inf, empty, _, pair = result["case_results"]
    assert inf["got"] == "inf" and empty["got"] == "set()"  # no JSON value: repr
    assert pair["got"] == [1, 2]  # tuples travel as lists


def test_big_integers_are_exact(service: Service):
    result = service.evaluate("def p(n):\n    return 2 ** n", "p", [("100", str(2 ** 100))])
    assert result["case_results"][0]["got"] == 2 ** 100


def test_stdout_is_captured_per_case_and_capped(service: Service):
    code = "def f(n):\n    print('line', n)\n    print('x' * 200000)\n    return n"
    result = service.evaluate(code, "f", [("1", "1"), ("2", "2")])
    first, second = result["case_results"]
    assert first["stdout"].startswith("line 1\n") and second["stdout"].startswith("line 2\n")
    assert len(first["stdout"]) <= 64 * 1024


def test_timeout_memory_and_crash_statuses(service: Service):
    code = ("import os, signal\n"
            "def spin():\n    while True:\n        pass\n"
            "def sleep():\n    import time\n    time.sleep(60)\n"
            "def hog():\n    x = bytearray(1 << 34)\n    return len(x)\n"
            "def crash():\n    os.kill(os.getpid(), signal.SIGSEGV)\n")
    result = service.evaluate(code, "spin", [("", "None")], timeout=1, cpu_limit=1)
    assert result["case_results"][0]["status"] == "timeout" and result["case_results"][0]["error"] == "Timeout"
    slept = service.evaluate(code, "sleep", [("", "None")], timeout=1)
    assert slept["case_results"][0]["status"] == "timeout"
    hog = service.evaluate(code, "hog", [("", "0")], memory_limit_mb=256)
    assert hog["case_results"][0]["status"] == "memory" and "MemoryError" in hog["case_results"][0]["error"]
    crash = service.evaluate(code, "crash", [("", "None")])
    assert crash["case_results"][0]["status"] == "crashed" and "SIGSEGV" in crash["case_results"][0]["error"]


def test_one_case_failing_hard_does_not_affect_the_others(service: Service):
    code = ("import os\n"
            "def f(x):\n"
            "    if x == 1:\n        while True: pass\n"
            "    if x == 2:\n        os._exit(9)\n"
            "    if x == 3:\n        open('/tmp/marker', 'w').write('left')\n"
            "    return os.path.exists('/tmp/marker') if x == 4 else x\n")
    result = service.evaluate(code, "f", [("0", "0"), ("1", "1"), ("2", "2"), ("3", "3"), ("0", "0")], timeout=1)
    assert statuses(result) == ["passed", "timeout", "error", "passed", "passed"], result


def test_cases_run_in_the_session_directory(service: Service, session_id: str):
    code = "def read():\n    return open('hello.txt').read()"
    result = service.evaluate(code, "read", [("", "'hello\\n'")], session=session_id)
    assert result["passed"] is True, result


def test_unknown_session_gets_a_discarded_scratch_directory(service: Service):
    code = "import os\ndef f():\n    n = len(os.listdir('.'))\n    open('junk.txt', 'w').write('x')\n    return n"
    for _ in range(2):
        result = service.evaluate(code, "f", [("", "0")], session="never-created-session")
        assert result["passed"] is True, result
    assert not (service.session_root / "never-created-session").exists()


def test_limits_above_the_maximum_are_422_naming_it(service: Service):
    body = {"id": "s", "code": ADD, "entry_point": "add", "io_cases": [], "timeout": 10_000}
    response = service.post("/evaluate_code", body)
    assert response.status_code == 422
    assert "30.0" in response.text and "maximum" in response.text


def test_no_cases_still_reports_a_syntax_error(service: Service):
    assert service.evaluate(ADD, "add", [])["passed"] is True
    assert service.evaluate("def (", "add", [])["error"].startswith("SyntaxError")


@pytest.mark.parametrize("body, where", [
    ({"code": ADD, "entry_point": "add", "io_cases": []}, "id"),
    ({"id": "s", "entry_point": "add", "io_cases": []}, "code"),
    ({"id": "s", "code": ADD, "entry_point": "add", "io_cases": [{"input": "1"}]}, "output"),
    ({"id": "s", "code": ADD, "entry_point": "add", "io_cases": "nope"}, "io_cases"),
])
def test_schema_errors_are_422_with_locations(service: Service, body, where):
    response = service.post("/evaluate_code", body)
    assert response.status_code == 422
    assert any(where in [str(p) for p in error["loc"]] for error in response.json()["detail"]), response.text


def test_user_code_inherits_no_descriptor_of_the_service(service: Service, session_id: str):
    """Only stdio and the case's own result pipe: no socket to the supervisor to forge reports on."""
    code = ("import os, stat\n"
            "def fds():\n"
            "    found = []\n"
            "    for name in os.listdir('/proc/self/fd'):\n"
            "        try:\n"
            "            found.append((int(name), stat.S_ISSOCK(os.fstat(int(name)).st_mode)))\n"
            "        except OSError:\n"
            "            pass\n"
            "    return sorted(found)\n")
    got = service.evaluate(code, "fds", [("", "[]")], session=session_id)["case_results"][0]["got"]
    assert not any(is_socket for _, is_socket in got), got
    assert len(got) <= 5, got  # 0, 1, 2, the result pipe and the pipe the expected text may come on
    listing = service.run(session_id, "ls /proc/self/fd | wc -l")["stdout"]
    assert int(listing) <= 4, listing  # 0, 1, 2 and the directory ls is reading


def test_a_fractional_cpu_limit_is_held_to(service: Service):
    """RLIMIT_CPU counts whole seconds; a case that returns after using more CPU than a
    fractional `cpu_limit` allows has passed its limit all the same."""
    code = ("import time\n"
            "def spin(seconds):\n    start = time.process_time()\n"
            "    while time.process_time() - start < seconds:\n        pass\n    return 1\n")
    over = service.evaluate(code, "spin", [("0.8", "1")], timeout=5, cpu_limit=0.5)["case_results"][0]
    assert over["status"] == "timeout" and over["error"] == "Timeout", over
    under = service.evaluate(code, "spin", [("0.05", "1")], timeout=5, cpu_limit=0.5)["case_results"][0]
    assert under["status"] == "passed", under


def test_code_is_compiled_without_the_service_s_future_imports(service: Service):
    """Annotations are evaluated when a function is defined, as `python3` does: the code
    does not inherit the harness's `from __future__ import annotations` (with it, an
    annotation naming nothing would never raise and every annotation would be a string)."""
    code = "def f(x: int) -> int:\n    return x\ndef g():\n    return f.__annotations__['x'] is int\n"
    assert service.evaluate(code, "g", [("", "True")])["passed"] is True
    tests = "def h(y: int):\n    pass\nassert h.__annotations__['y'] is int\n"
    tested = service.post("/evaluate_code", {"id": "scratch-annotations", "code": code, "entry_point": "g",
                                             "tests": tests})
    assert tested.json()["passed"] is True, tested.text
    undefined = service.evaluate("def f(x: no_such_name):\n    return x\n", "f", [("1", "1")])
    assert undefined["case_results"][0]["error"].startswith("NameError"), undefined
