"""Gunicorn settings for the web tier, read from the same settings as everything else.

Worker class `webapp.worker.HeadFirstWorker`, gunicorn's `gthread` with request heads
read in the worker's main loop (a stalled client holds no thread) and a few threads of
its own for `GET /` and `/healthz` (they answer while every request thread waits on a
long `/run`); see that module. Each worker serves `REPL_WEB_THREADS` requests at once,
so a 30 s `/run` holds one thread, not a whole worker. With gthread, `timeout` is a heartbeat of the
worker's main loop rather than a per-request limit, so a long `/run` is never killed by
it; it is still set above the longest RPC timeout so the nesting holds either way.
SIGTERM drains: workers stop accepting and finish in-flight requests within
`graceful_timeout`.
"""

import glob
import os
import shutil
import tempfile

from protocol import logformat, settings

_config = settings.load()

bind = f"{_config.bind_host}:{_config.port}"
worker_class = "webapp.worker.HeadFirstWorker"
worker_connections = 1000  # open connections per worker, stalled ones included (gunicorn's default)
workers = _config.web_workers
threads = _config.web_threads
timeout = int(_config.max_run_timeout + 60)
graceful_timeout = int(_config.max_run_timeout + 10)
keepalive = 5
backlog = 2048
limit_request_line = 8190  # the largest gunicorn allows: GET /read_file carries a path of up to 4096 bytes
accesslog = None  # the app logs one line per request itself (webapp.requestlog)
errorlog = "-"
loglevel = _config.log_level.lower()
# Gunicorn's own lines (master and workers) in the app's format and timestamps, JSON when
# REPL_LOG_FORMAT=json; see protocol.logformat.gunicorn_config.
logconfig_dict = logformat.gunicorn_config(_config.log_format, _config.log_level, tag="web")
control_socket_disable = True  # one per host by default; several services (and tests) share hosts

# --- metrics across workers -------------------------------------------------------------
# prometheus_client's multiprocess mode: each worker writes its metrics to files in
# PROMETHEUS_MULTIPROC_DIR and a scrape answered by any worker adds them all up. The
# variable must be set before a worker first imports prometheus_client, so it is set
# here, in the master, before any worker forks. Unset: a fresh temporary directory,
# removed when the master exits. Set by the operator: its leftover files from an earlier
# run are removed at start (stale counters would otherwise be added to the new ones).

_MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_OWNED_ENV = "REPL_METRICS_DIR_OWNED"  # marks a directory made here (survives a config reload)
if not os.environ.get(_MULTIPROC_ENV):
    os.environ[_MULTIPROC_ENV] = tempfile.mkdtemp(prefix="repl-prometheus-")
    os.environ[_OWNED_ENV] = os.environ[_MULTIPROC_ENV]
os.makedirs(os.environ[_MULTIPROC_ENV], exist_ok=True)


def on_starting(server) -> None:  # noqa: ANN001 - gunicorn's hook signature
    """Clear metric files left by an earlier run in an operator-chosen directory."""
    for path in glob.glob(os.path.join(os.environ[_MULTIPROC_ENV], "*.db")):
        try:
            os.unlink(path)
        except OSError:
            pass


def child_exit(server, worker) -> None:  # noqa: ANN001
    """A worker is gone: drop its live gauges (its counters stay counted)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server) -> None:  # noqa: ANN001
    """Remove the temporary directory made above (never an operator's)."""
    if os.environ.get(_OWNED_ENV) == os.environ.get(_MULTIPROC_ENV):
        shutil.rmtree(os.environ[_OWNED_ENV], ignore_errors=True)
