"""Values at the edges of what a verdict carries: integers past Python's int-to-str limit,
strings that have no UTF-8 form, results too large for one request, and tracebacks that
must show only the solution."""

from __future__ import annotations

import math

from tests.support.numbers import digits
from tests.support.service import Service

FACTORIAL = "import math\ndef f(n):\n    return math.factorial(n)\n"


def test_an_integer_past_the_str_limit_passes_when_equal(service: Service):
    body = service.evaluate(FACTORIAL, "f", [("2000", "__import__('math').factorial(2000)"),
                                             ("2000", "1")])
    first, second = body["case_results"]
    assert first["status"] == "passed", first
    assert second["status"] == "failed" and second["got"] == digits(math.factorial(2000)), second
    assert second["expected"] == 1


def test_a_string_with_no_utf8_form_passes_when_equal(service: Service):
    body = service.evaluate("def f():\n    return '\\ud800' + 'x'", "f", [("", "'\\ud800x'"), ("", "'y'")])
    first, second = body["case_results"]
    assert first["status"] == "passed" and first["got"] == "\ud800x", first
    assert second["status"] == "failed" and second["got"] == "\ud800x", second


def test_results_past_the_request_budget_fail_those_cases_only(service: Service):
    code = "def big(n):\n    return 'x' * n\n"
    size = 30_000_000
    cases = [(str(size), f"'x' * {size}")] * 3 + [("3", "'xxx'")]
    body = service.evaluate(code, "big", cases)
    statuses = [c["status"] for c in body["case_results"]]
    assert statuses[0] == "passed" and len(body["case_results"][0]["got"]) == size, statuses
    assert statuses[1] == statuses[2] == "error", statuses
    assert "ResultTooLarge" in body["case_results"][1]["error"]
    assert statuses[3] == "passed", statuses


def test_a_syntax_error_shows_no_path_of_the_service(service: Service):
    body = service.evaluate("def f(:\n    return 1\n", "f", [("", "1")])
    assert body["error"].startswith("SyntaxError"), body
    for text in (body["error"], body["case_results"][0]["error"]):
        assert "/supervisor/" not in text and ".py\"" not in text, text
        assert "<solution>" in text, text


def test_a_signalling_nan_is_a_wrong_answer_not_a_failure_of_the_request(service: Service):
    """Decimal("sNaN") refuses to be compared (InvalidOperation): it equals nothing."""
    code = "from decimal import Decimal\ndef f(x):\n    return Decimal('sNaN') if x else 1\n"
    body = service.evaluate(code, "f", [("1", "1"), ("0", "1")])
    assert [c["status"] for c in body["case_results"]] == ["failed", "passed"], body
    body = service.evaluate(code, "f", [("1", "[1.0]")], float_tolerance=1e-6)
    assert body["case_results"][0]["status"] == "failed", body


def test_user_code_has_pythons_default_int_to_str_limit(service: Service):
    """As in `python3`: str() of an integer past 4,300 digits raises at once (it does not
    run for seconds), in a function case and in test-code mode alike."""
    code = ("import sys\ndef f(n):\n    return len(str(10 ** n))\n"
            "def limit():\n    return sys.get_int_max_str_digits()\n")
    body = service.evaluate(code, "f", [("4000", "4001"), ("5000", "5001")])
    first, second = body["case_results"]
    assert first["status"] == "passed", first
    assert second["status"] == "error" and "Exceeds the limit (4300 digits)" in second["error"], second
    assert service.evaluate(code, "limit", [("", "4300")])["passed"] is True
    response = service.post("/evaluate_code", {"id": "scratch-x", "code": code, "tests": (
        "assert f(4000) == 4001\nassert len(str(10 ** 5000)) == 5001\nassert f(5000) == 5001\n")})
    cases = response.json()["case_results"]
    assert [c["status"] for c in cases] == ["passed", "error", "error"], cases
    assert all("Exceeds the limit" in c["error"] for c in cases[1:]), cases


def test_the_services_encoding_does_not_depend_on_the_int_to_str_limit(service: Service):
    """Whatever limit user code sets, an integer it returns crosses intact: a 1,001-digit
    answer after `sys.set_int_max_str_digits(640)`, and a 5,736-digit one."""
    code = "import math, sys\ndef f(n):\n    sys.set_int_max_str_digits(640)\n    return math.factorial(n)\n"
    cases = [("450", digits(math.factorial(450))), ("2000", digits(math.factorial(2000))), ("450", "1")]
    first, second, third = service.evaluate(code, "f", cases)["case_results"]
    assert first["status"] == second["status"] == "passed", (first, second)
    assert third["status"] == "failed" and third["got"] == math.factorial(450), third
    tests = (f"import sys\nsys.set_int_max_str_digits(640)\nassert f(450) == {digits(math.factorial(450))}\n"
             "assert f(450) == 1\n")
    response = service.post("/evaluate_code", {"id": "scratch-x", "code": code, "tests": tests})
    assert [c["status"] for c in response.json()["case_results"]] == ["passed", "failed"], response.text[:2000]
