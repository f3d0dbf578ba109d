"""The shared log formatter, request ids and the supervisor's job line: the pure parts."""

from __future__ import annotations

import json
import logging

import pytest

from protocol import logformat, requestids, settings
from protocol.errors import ErrorCode, ServiceError
from supervisor import joblog


def _record(msg: str = "hello %s", args: tuple = ("world",), exc_info=None, **extra) -> logging.LogRecord:
    record = logging.LogRecord("some.logger", logging.WARNING, __file__, 1, msg, args, exc_info)
    record.created, record.msecs = 1796232600.123456, 123.456  # 2026-12-02T17:30:00.123Z
    record.__dict__.update(extra)
    return record


def test_the_timestamp_is_iso_8601_utc_with_milliseconds() -> None:
    assert logformat.timestamp(_record()) == "2026-12-02T17:30:00.123Z"


def test_text_lines_start_with_the_timestamp_tag_and_level() -> None:
    line = logformat.make_formatter("text", "web").format(_record(request_id="abc"))
    assert line == "2026-12-02T17:30:00.123Z web WARNING hello world"


def test_a_json_line_holds_the_fields_and_the_exception_in_one_line() -> None:
    try:
        raise ValueError("bad\nthing")
    except ValueError:
        import sys
        record = _record(exc_info=sys.exc_info(), request_id="r1", duration_ms=1.5)
    line = logformat.make_formatter("json").format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["ts"] == "2026-12-02T17:30:00.123Z" and entry["level"] == "WARNING"
    assert entry["logger"] == "some.logger" and entry["msg"] == "hello world"
    assert entry["request_id"] == "r1" and entry["duration_ms"] == 1.5
    assert "ValueError: bad\nthing" in entry["exc"] and "Traceback" in entry["exc"]


def test_an_extra_field_cannot_replace_the_standard_keys() -> None:
    entry = json.loads(logformat.make_formatter("json").format(_record(ts="forged", level="forged")))
    assert entry["ts"] == "2026-12-02T17:30:00.123Z" and entry["level"] == "WARNING"


def test_json_escapes_control_characters() -> None:
    line = logformat.make_formatter("json").format(_record("a\nb\x1b[2J\u2028c", ()))
    assert line.isascii() and line.isprintable() and json.loads(line)["msg"] == "a\nb\x1b[2J\u2028c"


def test_the_log_format_setting_accepts_text_and_json_only() -> None:
    assert settings.load({}).log_format == "text"
    assert settings.load({"REPL_LOG_FORMAT": "JSON"}).log_format == "json"
    with pytest.raises(ValueError, match="REPL_LOG_FORMAT"):
        settings.load({"REPL_LOG_FORMAT": "xml"})


@pytest.mark.parametrize("value", ["0f3c" * 8, "client-1.2_3", "A" * 64])
def test_a_well_formed_request_id_is_accepted(value: str) -> None:
    assert requestids.accept(value) == value


@pytest.mark.parametrize("value", [None, "", "A" * 65, "a b", "a\nb", "a\rb", "é", "a\x00", 'a"b', "a=b"])
def test_anything_else_is_refused(value: object) -> None:
    assert requestids.accept(value) is None


def test_a_new_request_id_is_32_hex_digits_and_accepted() -> None:
    made = requestids.new()
    assert len(made) == 32 and int(made, 16) >= 0 and requestids.accept(made) == made


@pytest.mark.parametrize(("body", "error", "expected"), [
    ({"exit_code": 0, "timed_out": False}, None, "ok"),
    ({"exit_code": -9, "timed_out": True}, None, "timeout"),
    ({"case_results": [{"status": "passed"}, {"status": "failed"}]}, None, "failed"),
    ({"case_results": [{"status": "timeout"}, {"status": "memory"}, {"status": "error"}]}, None, "memory"),
    ({"case_results": [{"status": "timeout"}, {"status": "crashed"}]}, None, "crashed"),
    ({"case_results": [{"status": "failed"}, {"status": "output_limit"}, {"status": "timeout"}]}, None,
     "output_limit"),
    ({"case_results": [{"status": "passed"}]}, None, "ok"),
    (None, ServiceError(ErrorCode.NOT_FOUND, "x"), "not_found"),
    (None, ServiceError(ErrorCode.OUTCOME_UNKNOWN, "x", cause="backstop"), "outcome_unknown"),
])
def test_the_outcome_of_a_job(body, error, expected) -> None:
    assert joblog.outcome(body, error) == expected


def test_the_job_line_names_the_kill_cause_and_keeps_out_free_text() -> None:
    error = ServiceError(ErrorCode.OUTCOME_UNKNOWN, "the job overran\nforged", cause="backstop")
    entry = joblog.fields("run", "s1", "r1", 12.34, None, error)
    assert entry == {"kind": "run", "session": "s1", "request_id": "r1", "duration_ms": 12.3,
                     "outcome": "outcome_unknown", "cause": "backstop"}
    odd = joblog.fields("bad\nop", "a b", "", 0, {}, None)
    assert odd["kind"] == "-" and odd["session"] == "-" and odd["request_id"] == "-"
