"""Every setting of the service, declared once.

Both processes read their configuration from environment variables through this module
only. The README's configuration table is generated from `SETTINGS` (see
`render_markdown_table`) and a test checks that the two agree, so documentation cannot
drift from the code.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Setting:
    """One configuration knob: its environment variable, default and meaning."""

    name: str
    env: str
    default: Any
    parse: Callable[[str], Any]
    description: str
    minimum: float | None = None

    def read(self, environ: Mapping[str, str]) -> Any:
        """Parse the variable from `environ`, falling back to the default.

        Raises:
            ValueError: the variable is set but cannot be parsed or is below the minimum;
                the message names the variable so operators know what to fix.
        """
        raw = environ.get(self.env)
        if raw is None or raw == "":
            return self.default
        try:
            value = self.parse(raw)
        except ValueError as exc:
            raise ValueError(f"{self.env}={raw!r} is not valid: {exc}") from None
        if self.minimum is not None and value < self.minimum:
            raise ValueError(f"{self.env}={raw!r} must be at least {self.minimum}")
        return value


def _flag(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError("expected 1/0, true/false, yes/no or on/off")


def _text(raw: str) -> str:
    return raw


def _choice(*allowed: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip().lower()
        if value not in allowed:
            raise ValueError(f"expected one of {', '.join(allowed)}")
        return value
    return parse


def _absolute_path(raw: str) -> str:
    """A path that means the same from any working directory (empty: unset)."""
    value = raw.strip()
    if value and not os.path.isabs(value):
        raise ValueError("expected an absolute path")
    return value


def _endpoint_list(raw: str) -> tuple[str, ...]:
    endpoints = tuple(part.strip() for part in raw.split(",") if part.strip())
    for endpoint in endpoints:
        if not endpoint.startswith(("ipc://", "tcp://")):
            raise ValueError(f"{endpoint!r} is not an ipc:// or tcp:// ZeroMQ endpoint")
    if len(set(endpoints)) != len(endpoints):
        raise ValueError("an endpoint is listed twice")
    return endpoints


def _module_names(raw: str) -> tuple[str, ...]:
    if raw.strip().lower() == "none":
        return ()
    names = tuple(part.strip() for part in raw.split(",") if part.strip())
    for name in names:
        if not all(piece.isidentifier() for piece in name.split(".")):
            raise ValueError(f"{name!r} is not a module name")
    return names


#: Standard-library modules that solutions commonly import, preloaded unless configured otherwise.
DEFAULT_PRELOAD = ("collections,itertools,functools,math,heapq,bisect,re,string,typing,dataclasses,"
                   "fractions,decimal,statistics,random,json,operator,copy,asyncio")


SETTINGS: tuple[Setting, ...] = (
    Setting("port", "PORT", 6000, int, "TCP port the web tier listens on.", 1),
    Setting("bind_host", "REPL_BIND_HOST", "0.0.0.0", _text, "Address the web tier binds to."),
    Setting("session_root", "REPL_SESSION_ROOT", "/tmp/genie_repl", _text,
            "Directory holding one sub-directory per session (owned by the supervisor)."),
    Setting("supervisor_endpoint", "REPL_SUPERVISOR_ENDPOINT", "ipc:///tmp/genie_repl_supervisor.sock",
            _text, "ZeroMQ address the supervisor binds (e.g. `tcp://*:5555`); also the one the web workers "
            "connect to when `REPL_SUPERVISOR_ENDPOINTS` is unset."),
    Setting("supervisor_endpoints", "REPL_SUPERVISOR_ENDPOINTS", (), _endpoint_list,
            "Comma-separated endpoints of several supervisors the web tier spreads sessions over (rendezvous "
            "hashing of the session id); unset: the one `REPL_SUPERVISOR_ENDPOINT`. Web tier only."),
    Setting("curve_secret_key", "REPL_CURVE_SECRET_KEY", "", _text,
            "Supervisor: its CurveZMQ secret key file (`server.key_secret` of `python3 -m supervisor.keys`); "
            "required for a `tcp://` endpoint unless `REPL_INSECURE=1`."),
    Setting("curve_clients_dir", "REPL_CURVE_CLIENTS_DIR", "", _text,
            "Supervisor: directory of the public key files (`*.key`) of the clients allowed to connect."),
    Setting("curve_client_key", "REPL_CURVE_CLIENT_KEY", "", _text,
            "Web tier: its CurveZMQ secret key file (`web.key_secret`), used on every supervisor connection."),
    Setting("curve_server_key", "REPL_CURVE_SERVER_KEY", "", _text,
            "Web tier: the supervisors' public key file (`server.key`); all supervisors share one key pair."),
    Setting("web_workers", "REPL_WEB_WORKERS", 2, int, "Gunicorn worker processes.", 1),
    Setting("web_threads", "REPL_WEB_THREADS", 32, int,
            "Threads per gunicorn worker (each can wait on one long `/run`).", 1),
    Setting("pool_size", "REPL_POOL_SIZE", 8, int, "Pre-forked idle sandboxes kept warm.", 1),
    Setting("sandbox_max_jobs", "REPL_SANDBOX_MAX_JOBS", 1000, int,
            "Jobs a sandbox serves before it is replaced by a new one, however clean it looks.", 1),
    Setting("max_concurrent_jobs", "REPL_MAX_CONCURRENT_JOBS", 32, int,
            "Sandboxes running jobs at once; further jobs wait in the queue.", 1),
    Setting("max_queue", "REPL_MAX_QUEUE", 256, int,
            "Jobs allowed to wait for a sandbox before new ones get 503.", 0),
    Setting("max_queue_wait", "REPL_MAX_QUEUE_WAIT", 15.0, float,
            "Seconds a job may wait for a free sandbox; a job not started by then gets 503 and never runs.", 0.1),
    Setting("eval_timeout", "REPL_EVAL_TIMEOUT", 5.0, float, "Default wall-clock limit per case (s).", 0.01),
    Setting("eval_cpu_limit", "REPL_EVAL_CPU_LIMIT", 4.0, float, "Default CPU limit per case (s).", 0.01),
    Setting("eval_memory_mb", "REPL_EVAL_MEMORY_MB", 2048, int, "Default memory limit per case (MiB).", 16),
    Setting("max_eval_timeout", "REPL_MAX_EVAL_TIMEOUT", 30.0, float,
            "Largest per-case wall-clock limit a request may ask for (s).", 0.01),
    Setting("max_eval_cpu_limit", "REPL_MAX_EVAL_CPU_LIMIT", 30.0, float,
            "Largest per-case CPU limit a request may ask for (s).", 0.01),
    Setting("max_eval_memory_mb", "REPL_MAX_EVAL_MEMORY_MB", 4096, int,
            "Largest per-case memory limit a request may ask for (MiB).", 16),
    Setting("max_cases", "REPL_MAX_CASES", 1000, int, "Largest number of io_cases in one request.", 1),
    Setting("max_tests_chars", "REPL_MAX_TESTS_CHARS", 256 << 10, int,
            "Largest `tests` of one evaluation (characters): both tiers parse them to plan its cases, the "
            "supervisor in its one loop, so their size bounds that pause.", 1024),
    Setting("judge_timeout", "REPL_JUDGE_TIMEOUT", 5.0, float,
            "Default wall-clock and CPU limit of each run of a request's checker (on one case, or its "
            "compile step), and CPU limit of its interactor on one case (s).", 0.01),
    Setting("max_judge_timeout", "REPL_MAX_JUDGE_TIMEOUT", 30.0, float,
            "Largest `timeout` a request's checker or interactor may ask for (s).", 0.01),
    Setting("max_judge_chars", "REPL_MAX_JUDGE_CHARS", 1 << 20, int,
            "Largest checker or interactor of one evaluation: its `code` and `files` together (characters).",
            1024),
    Setting("max_batch", "REPL_MAX_BATCH", 100, int,
            "Largest number of submissions in one `/evaluate_batch` request.", 1),
    Setting("run_timeout", "REPL_RUN_TIMEOUT", 30.0, float, "Default wall-clock limit of `/run` (s).", 0.01),
    Setting("max_run_timeout", "REPL_MAX_RUN_TIMEOUT", 120.0, float,
            "Largest `/run` timeout a request may ask for (s).", 0.01),
    Setting("run_memory_mb", "REPL_RUN_MEMORY_MB", 2048, int, "Memory limit of a `/run` command (MiB).", 16),
    Setting("max_output_bytes", "REPL_MAX_OUTPUT_BYTES", 1 << 20, int,
            "Cap on each of stdout and stderr of `/run` (bytes).", 1024),
    Setting("case_stdout_bytes", "REPL_CASE_STDOUT_BYTES", 64 << 10, int,
            "Cap on what one evaluation case may print (bytes).", 0),
    Setting("max_processes", "REPL_MAX_PROCESSES", 64, int, "Processes one sandbox may run at once.", 4),
    Setting("max_open_files", "REPL_MAX_OPEN_FILES", 256, int, "Open files per sandboxed process.", 16),
    Setting("tmp_size_mb", "REPL_TMP_SIZE_MB", 256, int, "Size of each sandbox's private /tmp (MiB).", 1),
    Setting("disk_quota_mb", "REPL_DISK_QUOTA_MB", 1024, int, "Disk quota of one session (MiB).", 1),
    Setting("session_ttl", "REPL_SESSION_TTL", 86400.0, float,
            "Idle seconds after which a session is removed (0 keeps sessions forever).", 0),
    Setting("max_body_bytes", "REPL_MAX_BODY_BYTES", 16 << 20, int, "Largest request body (bytes).", 1024),
    Setting("api_token", "REPL_API_TOKEN", "", _text,
            "When set, every endpoint but `/` and the health checks needs `Authorization: Bearer <token>`."),
    Setting("sandbox_uid", "REPL_SANDBOX_UID", 60000, int,
            "Unprivileged uid (and gid) sandboxed code runs as; the uid after it is the sandboxes' template's. "
            "No other process may hold either (the supervisor refuses to start): two supervisors on one host "
            "take values two apart.", 1),
    Setting("sandbox_python", "REPL_SANDBOX_PYTHON", "", _absolute_path,
            "The interpreter user code runs on, e.g. a virtualenv's `bin/python3` with the packages user code "
            "may import (Python 3.11 or later); unset: the service's own. When set, the service's own packages "
            "are hidden from user code."),
    Setting("preload_modules", "REPL_PRELOAD_MODULES", _module_names(DEFAULT_PRELOAD), _module_names,
            "Comma-separated modules imported once before sandboxes are forked, so importing them costs "
            "user code nothing (e.g. `numpy,scipy` for a sandbox interpreter that has them); `none` for none."),
    Setting("insecure", "REPL_INSECURE", False, _flag,
            "Run without namespaces when the machine cannot provide them (never in production)."),
    Setting("log_level", "REPL_LOG_LEVEL", "INFO", _text, "Python logging level of both processes."),
    Setting("log_format", "REPL_LOG_FORMAT", "text", _choice("text", "json"),
            "Log line format of both processes and gunicorn: `text`, or `json` (one object per line); "
            "timestamps are ISO 8601 UTC with milliseconds either way."),
)


@dataclass(frozen=True)
class Config:
    """The parsed configuration: attribute per setting name."""

    values: dict[str, Any] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None


def load(environ: Mapping[str, str] | None = None) -> Config:
    """Read every setting from `environ` (default: the process environment)."""
    environ = os.environ if environ is None else environ
    return Config({s.name: s.read(environ) for s in SETTINGS})


def render_markdown_table() -> str:
    """The README's configuration table, generated from `SETTINGS`."""
    lines = ["| Variable | Default | Meaning |", "|---|---|---|"]
    for s in SETTINGS:
        shown = ",".join(s.default) if isinstance(s.default, tuple) else s.default
        default = "(unset)" if shown == "" else f"`{shown}`"
        lines.append(f"| `{s.env}` | {default} | {s.description} |")
    return "\n".join(lines)
