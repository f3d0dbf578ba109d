"""Gunicorn settings for the web tier, read from the same settings as everything else.

Worker class `gthread`: each worker serves `REPL_WEB_THREADS` requests at once, so a 30 s
`/run` holds one thread, not a whole worker. With gthread, `timeout` is a heartbeat of the
worker's main loop rather than a per-request limit, so a long `/run` is never killed by
it; it is still set above the longest RPC timeout so the nesting holds either way.
SIGTERM drains: workers stop accepting and finish in-flight requests within
`graceful_timeout`.
"""

from protocol import settings

_config = settings.load()

bind = f"{_config.bind_host}:{_config.port}"
worker_class = "gthread"
workers = _config.web_workers
threads = _config.web_threads
timeout = int(_config.max_run_timeout + 60)
graceful_timeout = int(_config.max_run_timeout + 10)
keepalive = 5
backlog = 2048
limit_request_line = 8190  # the largest gunicorn allows: GET /read_file carries a path of up to 4096 bytes
accesslog = None  # the app logs one line per request itself
errorlog = "-"
loglevel = _config.log_level.lower()
control_socket_disable = True  # one per host by default; several services (and tests) share hosts
