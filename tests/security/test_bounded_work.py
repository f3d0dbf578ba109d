"""Work the service does on user input outside every case's deadline is bounded. The
sandbox's init reads what user code returns and parses the request's expected outputs;
the web tier and the supervisor (in its one loop) plan the tests of test-code mode. The
inputs here once kept one of them busy for seconds to minutes (the supervisor then killed
the sandbox and answered 504, or every other request waited). Each is now judged, or
refused naming the limit it passed (docs/api.md §4, docs/security.md)."""

from __future__ import annotations

import json

from tests.security.support import hostile
from tests.support.service import Service

TOO_LARGE = "LiteralTooLarge"


def evaluate(service: Service, code: str, entry_point: str, cases: list[tuple[str, str]], **extra: object) -> dict:
    body = {"id": "scratch-init-work", "code": code, "entry_point": entry_point,
            "io_cases": [{"input": i, "output": o} for i, o in cases], **extra}
    response = service.post("/evaluate_code", body, timeout=120)
    assert response.status_code == 200, response.text[:500]
    return response.json()


def test_a_fraction_of_huge_integers_is_judged_without_writing_them_out(service: Service):
    """Its repr would be 1.4 million digits, a quadratic conversion in the init."""
    (case,) = evaluate(service, hostile("unreduced_fraction.py"), "huge", [("", "1")], timeout=5)["case_results"]
    assert case["status"] == "failed" and case["got"] == "<Fraction holding integers too large to show>", case


def test_an_unreduced_fraction_is_not_reduced_by_the_init(service: Service):
    (case,) = evaluate(service, hostile("unreduced_fraction.py"), "unreduced", [("", "1")],
                       timeout=5)["case_results"]
    assert case["status"] == "failed" and "too large to show" in case["got"], case
    control = evaluate(service, "from fractions import Fraction\ndef f():\n    return Fraction(4, 2)\n", "f",
                       [("", "2"), ("", "0.5")])
    assert [c["status"] for c in control["case_results"]] == ["passed", "failed"], control


def test_an_expected_integer_past_the_digit_limit_is_refused_naming_it(service: Service):
    """A 1,040,000-digit decimal literal (about ten seconds of str -> int each): every
    case says which limit and what to write instead, and the same number written in
    hexadecimal is compared."""
    digits = "7" * 1_040_000
    result = evaluate(service, "def f():\n    return 1\n", "f", [("", digits)] * 3, timeout=0.5)
    for case in result["case_results"]:
        assert case["status"] == "error" and TOO_LARGE in case["error"], case
        assert "10000 decimal digits" in case["error"] and "hexadecimal" in case["error"], case
    number = (10 ** 1_040_000 - 1) // 9 * 7  # the same 1,040,000 sevens
    code = "def f():\n    return (10 ** 1_040_000 - 1) // 9 * 7\n"
    passing = evaluate(service, code, "f", [("", hex(number)), ("", hex(number + 1))], timeout=5)
    assert [c["status"] for c in passing["case_results"]] == ["passed", "failed"], passing["case_results"][1]["error"]


def test_a_large_solution_is_not_parsed_by_the_init(service: Service):
    """12 MB of code: its cases compile it in their own units, under their deadlines."""
    code = "def f():\n    return 1\nDATA = [" + "0," * 6_000_000 + "]\n"
    result = evaluate(service, code, "f", [("", "1"), ("", "1")], timeout=1)
    assert [c["status"] for c in result["case_results"]] == ["timeout", "timeout"], result


def test_a_long_answer_is_read_in_time(service: Service):
    """Two million one-item lists (8 MB of report) once cost the init some twelve seconds
    of copying and walking, three times what the case took to make and send them."""
    result = evaluate(service, "def f():\n    return [[0]] * 2_000_000\n", "f", [("", "1")], timeout=10)
    (case,) = result["case_results"]
    assert case["status"] == "failed" and case["got"] == [[0]] * 2_000_000, case["status"]


def test_many_large_integers_are_shown_within_a_digit_budget(service: Service):
    """1,500 integers of 19,000 digits each: writing them all in decimal (quadratic each)
    took the init seconds; the first are written out, the others described."""
    code = "def f():\n    return [3 ** 40_000 + i for i in range(1500)]\n"
    (case,) = evaluate(service, code, "f", [("", "1")], timeout=3)["case_results"]
    assert case["status"] == "failed", case["status"]
    assert case["got"][0].isdigit() and case["got"][-1].startswith("<int of about 1908"), case["got"][-1]


def test_an_expected_literal_over_a_mebibyte_is_compared_by_the_init(service: Service):
    """A 1.29 MB expected list was judged by the case itself, where an object equal to
    everything passes it; the init compares it, whatever its size."""
    expected = json.dumps(list(range(1_000_000, 1_200_000)))
    assert len(expected) > 1 << 20
    always_equal = hostile("always_equal.py")
    result = evaluate(service, always_equal, "add", [("1, 2", expected)])
    (case,) = result["case_results"]
    assert case["status"] == "failed" and "compared with" not in case["stdout"], case["stdout"][:200]
    honest = evaluate(service, "def add(a, b):\n    return list(range(1_000_000, 1_200_000))\n", "add",
                      [("1, 2", expected), ("1, 2", expected.replace("1199999", "1"))])
    assert [c["status"] for c in honest["case_results"]] == ["passed", "failed"]
    as_python = "(" + expected[1:-1] + ")"  # a tuple: not JSON, and too long to parse as Python
    (refused,) = evaluate(service, always_equal, "add", [("1, 2", as_python)])["case_results"]
    assert refused["status"] == "error" and TOO_LARGE in refused["error"] and "JSON" in refused["error"], refused


def test_many_asserts_are_planned_in_linear_time_and_refused_past_the_case_maximum(service: Service):
    """Planning named each assert by a search of the whole text: 8,000 asserts took the web
    tier minutes before it could say that 1,000 is the most."""
    tests = "".join(f"assert f({i}) == {i}\n" for i in range(8000))
    body = {"id": "scratch-init-work", "code": "def f(x):\n    return x\n", "tests": tests}
    response = service.post("/evaluate_code", body, timeout=60)
    assert response.status_code == 422 and "at most 1000 cases" in response.text, response.text[:300]
    body["tests"] = tests[: tests.index("assert f(10)")]  # the control: ten of them are ten cases
    result = service.post("/evaluate_code", body).json()
    assert result["passed"] is True and len(result["case_results"]) == 10


def test_tests_past_their_size_limit_are_refused_before_they_are_parsed(service: Service):
    """Both tiers parse the tests (the supervisor in its one loop): their size is checked
    first, against the limit `/limits` shows."""
    limit = service.get("/limits").json()["evaluate"]["tests"]
    assert limit["unit"] == "characters"
    tests = "assert f(1) == 1\n"
    tests += "#" * (limit["maximum"] - len(tests))
    body = {"id": "scratch-init-work", "code": "def f(x):\n    return x\n", "tests": tests}
    assert service.post("/evaluate_code", body).json()["passed"] is True
    body["tests"] += "#"
    response = service.post("/evaluate_code", body)
    assert response.status_code == 422 and str(limit["maximum"]) in response.text, response.text[:300]


def test_a_long_number_like_token_is_compared_in_linear_time(service: Service):
    """`compare: float` asks of each token whether it is a number: 30,000 digits and an
    `x` once took the init's regular expression half a minute, on either side."""
    token = "1" * 30_000 + "x"
    body = {"id": "scratch-init-work", "code": f"print({token[:-1]!r} + 'x')", "compare": "float", "timeout": 2,
            "io_cases": [{"stdin": "", "stdout": token[:-1] + "y"}, {"stdin": "", "stdout": token}]}
    response = service.post("/evaluate_code", body)
    assert response.status_code == 200, response.text[:300]
    assert [c["status"] for c in response.json()["case_results"]] == ["failed", "passed"]
