"""One log format for both processes, gunicorn's own loggers included.

Both the web tier and the supervisor write their logs to stderr through `configure`;
gunicorn's master and workers get the same formatter through `gunicorn_config`, so every
line of a deployment carries one timestamp format, ISO 8601 in UTC with milliseconds
(`2026-12-02T17:30:00.123Z`), whatever wrote it.

`REPL_LOG_FORMAT=text` (the default) writes

    2026-12-02T17:30:00.123Z web INFO POST /run 200 12.3ms session=abc request_id=0f3c...

and `json` writes one object per line, with `ts`, `level`, `logger`, `msg`, the fields a
call passes as `extra=` (`request_id`, `session`, `duration_ms`, ...), and an exception
as the one string `exc`, so that a traceback never breaks a line. The text format leaves
the message as the caller wrote it (callers escape what comes from clients); JSON escapes
everything, control characters included.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from types import TracebackType
from typing import Any

FORMATS = ("text", "json")

# The attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


def timestamp(record: logging.LogRecord) -> str:
    """The record's time as ISO 8601 UTC with milliseconds: 2026-12-02T17:30:00.123Z."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The fields a logging call passed with `extra=`."""
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")}


class TextFormatter(logging.Formatter):
    """`<ts> <tag> <LEVEL> <message>`, a traceback on the lines after it."""

    def __init__(self, tag: str) -> None:
        super().__init__()
        self.tag = tag

    def format(self, record: logging.LogRecord) -> str:
        line = f"{timestamp(record)} {self.tag} {record.levelname} {record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        if record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, the extra fields, exc."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {"ts": timestamp(record), "level": record.levelname, "logger": record.name,
                                 "msg": record.getMessage()}
        for key, value in extra_fields(record).items():
            entry.setdefault(key, value)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str)  # ensure_ascii: no raw newline or control character


def make_formatter(format: str = "text", tag: str = "-") -> logging.Formatter:  # noqa: A002
    """The formatter for `format` (`text` or `json`); a `dictConfig` factory ("()")."""
    if format == "json":
        return JsonFormatter()
    return TextFormatter(tag)


def configure(format: str, level: str, tag: str) -> None:  # noqa: A002
    """Send every log record of this process to stderr in `format`.

    Replaces the root logger's handlers (so calling it again, as gunicorn's worker does
    after its master configured the same, never doubles lines), routes `warnings` through
    logging, and logs uncaught exceptions instead of letting Python print them raw, so that
    in JSON every line of stderr stays parseable.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(make_formatter(format, tag))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    logging.captureWarnings(True)
    sys.excepthook = _log_uncaught
    threading.excepthook = _log_uncaught_in_thread


def _log_uncaught(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
    logging.getLogger("uncaught").critical("uncaught exception", exc_info=(kind, value, tb))


def _log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return
    name = args.thread.name if args.thread is not None else "?"
    error = args.exc_value if args.exc_value is not None else args.exc_type()
    logging.getLogger("uncaught").critical("uncaught exception in thread %s", name,
                                           exc_info=(args.exc_type, error, args.exc_traceback))


def gunicorn_config(format: str, level: str, tag: str) -> dict[str, Any]:  # noqa: A002
    """Gunicorn's `logconfig_dict`: its loggers write through the root logger's handler.

    `gunicorn.error` (the master's and workers' own lines) propagates to root, which has
    this module's formatter. `gunicorn.access` does too, at WARNING: gunicorn writes an
    access line for every request once a `logconfig_dict` is set, and the app already logs
    one itself with the session and the request id (`webapp.requestlog`); lowering it to
    INFO turns gunicorn's on, in the same format.
    """
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"repl": {"()": "protocol.logformat.make_formatter", "format": format, "tag": tag}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "repl",
                                "stream": "ext://sys.stderr"}},
        "root": {"level": level.upper(), "handlers": ["stderr"]},
        "loggers": {
            "gunicorn.error": {"level": level.upper(), "handlers": [], "propagate": True},
            "gunicorn.access": {"level": "WARNING", "handlers": [], "propagate": True},
        },
    }
