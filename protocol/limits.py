"""What a request may ask for: every configurable bound of a request field, in one table,
and the few the kernel fixes (the length of a command).

The request models check a field against its maximum here (`check`, `check_argument`),
`GET /limits` lists every default and maximum from here (`describe`), and the OpenAPI document puts
the same maxima into the request schemas (`maximum`, `maxItems`). So a client can learn
the server's limits before it sends anything, and no two places can disagree about them.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from typing import Any

from protocol.settings import Config


@dataclass(frozen=True)
class Bound:
    """A request field whose largest value (and, when it has one, default) is a setting.

    Attributes:
        op: The operation whose request has the field (`protocol.models.OPERATIONS`).
        field: The field's name.
        maximum: The setting holding its largest value.
        default: The setting holding the value used when the field is left out, if any.
        unit: What the number counts, for messages and `/limits`.
        count: True when the bound is on the number of items of a list field (of characters
            of a string field).
        model: The model that declares the field, when it is not the operation's request
            model itself (a field of a nested object: `Judge.timeout`).
    """

    op: str
    field: str
    maximum: str
    default: str | None
    unit: str
    count: bool = False
    model: str | None = None


BOUNDS: tuple[Bound, ...] = (
    Bound("evaluate", "timeout", "max_eval_timeout", "eval_timeout", "s"),
    Bound("evaluate", "cpu_limit", "max_eval_cpu_limit", "eval_cpu_limit", "s"),
    Bound("evaluate", "memory_limit_mb", "max_eval_memory_mb", "eval_memory_mb", "MiB"),
    Bound("evaluate", "io_cases", "max_cases", None, "cases", count=True),
    Bound("evaluate", "tests", "max_tests_chars", None, "characters", count=True),
    # `checker` and `interactor` of an evaluation (a `Judge` each): the group `judge` of /limits.
    Bound("judge", "timeout", "max_judge_timeout", "judge_timeout", "s", model="Judge"),
    Bound("judge", "code", "max_judge_chars", None, "characters (code and files together)", count=True,
          model="Judge"),
    Bound("run", "timeout", "max_run_timeout", "run_timeout", "s"),
    Bound("evaluate_batch", "submissions", "max_batch", None, "submissions", count=True),
)

#: Fixed by the service, not by a request: (group, name) -> (setting, unit).
FIXED: dict[tuple[str, str], tuple[str, str]] = {
    ("evaluate", "case_stdout"): ("case_stdout_bytes", "bytes"),
    ("evaluate_batch", "concurrency"): ("max_concurrent_jobs", "submissions of one batch running at once"),
    ("run", "memory"): ("run_memory_mb", "MiB"),
    ("run", "output"): ("max_output_bytes", "bytes each of stdout and stderr"),
    ("session", "disk_quota"): ("disk_quota_mb", "MiB"),
    ("session", "idle_ttl"): ("session_ttl", "s (0: kept forever)"),
    ("request", "body"): ("max_body_bytes", "bytes"),
    ("request", "queue_wait"): ("max_queue_wait", "s a job may wait for a sandbox"),
    ("sandbox", "processes"): ("max_processes", "processes at once"),
    ("sandbox", "open_files"): ("max_open_files", "per process"),
    ("sandbox", "tmp"): ("tmp_size_mb", "MiB of private /tmp"),
}


#: A command runs as one argument of exec(2) (`/bin/sh -c <cmd>`), which the kernel caps at
#: MAX_ARG_STRLEN (32 pages: 128 KiB, its terminating NUL included), whatever the machine.
MAX_ARGUMENT_BYTES = 32 * 4096 - 1
_ARGUMENT_UNIT = "bytes of UTF-8 (one exec argument of `sh -c`: the kernel's MAX_ARG_STRLEN)"

#: Fixed by the kernel, the same on every machine: (group, name) -> (value, unit).
CONSTANT: dict[tuple[str, str], tuple[int, str]] = {
    ("run", "cmd"): (MAX_ARGUMENT_BYTES, _ARGUMENT_UNIT),
    ("evaluate", "cmd"): (MAX_ARGUMENT_BYTES, _ARGUMENT_UNIT),
    ("evaluate", "compile"): (MAX_ARGUMENT_BYTES, _ARGUMENT_UNIT),
    ("judge", "cmd"): (MAX_ARGUMENT_BYTES, _ARGUMENT_UNIT),
    ("judge", "compile"): (MAX_ARGUMENT_BYTES, _ARGUMENT_UNIT),
    ("judge", "files"): (16, "files (names of 1-64 characters of [A-Za-z0-9._-])"),
}
MAX_JUDGE_FILES = CONSTANT[("judge", "files")][0]


def check_argument(value: str) -> str:
    """Refuse a command that cannot be one exec argument, naming the limit and the way
    round it (a script in a file, run by a short command)."""
    if len(value) > MAX_ARGUMENT_BYTES // 4 and len(value.encode("utf-8", "surrogatepass")) > MAX_ARGUMENT_BYTES:
        raise ValueError(f"must be at most {MAX_ARGUMENT_BYTES} bytes of UTF-8: a command is one argument of "
                         "`sh -c`, which the kernel caps at 128 KiB; write a longer script to a file "
                         "(/write_file) and run that, e.g. `sh script.sh`")
    return value


def bound(op: str, field: str) -> Bound:
    """The bound of `op`'s request field `field`.

    Raises:
        KeyError: The field has no configurable bound.
    """
    for candidate in BOUNDS:
        if candidate.op == op and candidate.field == field:
            return candidate
    raise KeyError(f"{op}.{field} has no configurable bound")


def resolve(op: str, field: str, value: Any, config: Any) -> Any:
    """The value a job runs with: the request's, or else the server's default for it (the
    one place a left-out limit is filled in)."""
    if value is not None:
        return value
    default = bound(op, field).default
    if default is None:
        raise KeyError(f"{op}.{field} has no default")
    return getattr(config, default)


def check(op: str, field: str, value: Any, config: Config | None) -> Any:
    """Refuse a value above the server's configured maximum, naming that maximum (no
    check without a configuration: the model is then only describing data)."""
    if value is None or config is None:
        return value
    check_size(op, field, len(value) if bound(op, field).count else value, config)
    return value


def check_size(op: str, field: str, size: float, config: Config | None) -> None:
    """`check` for a size the caller measured (a field bounded with others: a judge's code
    and files together)."""
    if config is None:
        return
    limit = bound(op, field)
    maximum = getattr(config, limit.maximum)
    if size > maximum:
        if limit.count:
            raise ValueError(f"at most {maximum} {limit.unit} per request (the server's configured maximum)")
        raise ValueError(f"must be at most {maximum} {limit.unit} (the server's configured maximum)")


def describe(config: Config) -> dict[str, dict[str, Any]]:
    """Every default and maximum, grouped by operation: the body of `GET /limits`."""
    groups: dict[str, dict[str, Any]] = {}
    for limit in BOUNDS:
        entry: dict[str, Any] = {"maximum": getattr(config, limit.maximum), "unit": limit.unit}
        if limit.default is not None:
            entry["default"] = getattr(config, limit.default)
        groups.setdefault(limit.op, {})[limit.field] = entry
    for (group, name), (setting, unit) in FIXED.items():
        groups.setdefault(group, {})[name] = {"value": getattr(config, setting), "unit": unit}
    for (group, name), (value, unit) in CONSTANT.items():
        groups.setdefault(group, {})[name] = {"value": value, "unit": unit}
    from protocol import models  # the request models import this module
    groups["evaluate"]["isolation"] = {"default": models.DEFAULT_ISOLATION,
                                       "choices": list(typing.get_args(models.Isolation))}
    return groups
