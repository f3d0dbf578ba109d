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
