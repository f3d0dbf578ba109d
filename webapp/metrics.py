"""`GET /metrics`: Prometheus metrics of the web tier and, at scrape time, of the supervisor.

Web-side metrics (requests by route and status, latencies, in-flight requests, evaluation
outcomes by case status, `/run` outcomes, RPC latencies and errors) are recorded by each
gunicorn worker. Under gunicorn they live in prometheus_client's multiprocess mode:
`webapp/gunicorn_conf.py` sets `PROMETHEUS_MULTIPROC_DIR` in the master before the workers
fork (it must be set before `prometheus_client` is first imported in a worker), and a
scrape answered by any worker adds up the files of all of them. Without that variable
(the app run in-process, e.g. by the Flask test client) the process's own registry is used.

The supervisor's numbers (sandboxes idle/busy, queue depth, sandbox kills by cause and the
pool's other counters) are asked for with its `status` operation when the scrape happens,
by a custom collector; if the supervisor does not answer, `/metrics` still answers with the
web-side metrics and `repl_supervisor_up 0`. With several supervisors each is asked, its
series labelled `supervisor="<endpoint>"`, and `repl_rpc_routed_total` counts what this
tier sent to each.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, get_args

from flask import Blueprint, Flask, Response, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

from protocol.errors import ServiceError
from protocol.models import CaseStatus
from webapp.router import SupervisorStatus

bp = Blueprint("metrics", __name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
STATUS_TIMEOUT = 1.0  # seconds a scrape waits for the supervisor's status
UNMATCHED = "<unmatched>"  # route label of requests that matched no route (bounded cardinality)
# The methods HTTP defines (RFC 9110, and PATCH); any other is a client's invention, and
# each would otherwise add a counter and a histogram to every later scrape.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"})
OTHER_METHOD = "other"

# Latencies span a 1 ms file read to a 120 s command.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)

HTTP_REQUESTS = Counter("repl_http_requests_total",
                        "HTTP requests answered, by method (`other` for one HTTP does not define), route and status.",
                        ["method", "endpoint", "status"])
HTTP_LATENCY = Histogram("repl_http_request_duration_seconds", "Time to answer an HTTP request, by method and route.",
                         ["method", "endpoint"], buckets=LATENCY_BUCKETS)
HTTP_IN_FLIGHT = Gauge("repl_http_requests_in_flight", "HTTP requests being answered now (all workers).",
                       multiprocess_mode="livesum")
RPC_LATENCY = Histogram("repl_rpc_duration_seconds", "Time the supervisor took to answer an operation.",
                        ["op"], buckets=LATENCY_BUCKETS)
RPC_ERRORS = Counter("repl_rpc_errors_total", "Operations the supervisor refused or did not answer, by error code.",
                     ["op", "code"])
EVALUATIONS = Counter("repl_evaluations_total",
                      "Answered /evaluate_code requests, by result (passed, failed, compile_error).", ["result"])
# A case's status label is one of the API's statuses (`unknown` for anything else: a bounded set).
CASE_STATUSES: tuple[str, ...] = get_args(CaseStatus)
UNKNOWN_STATUS = "unknown"
EVALUATION_CASES = Counter("repl_evaluation_cases_total",
                           f"Evaluated cases, by status ({', '.join(CASE_STATUSES)}).", ["status"])
for _status in CASE_STATUSES:  # every status exported from the first scrape, so rate() works at once
    EVALUATION_CASES.labels(_status)
ROUTED = Counter("repl_rpc_routed_total", "Operations sent to each supervisor, by endpoint and operation.",
                 ["supervisor", "op"])
RUN_COMMANDS = Counter("repl_run_commands_total",
                       "Answered /run commands, by result (ok, nonzero exit, timeout).", ["result"])

# Help texts of the supervisor pool's counters; a counter not listed gets a generic one.
SUPERVISOR_COUNTER_HELP = {
    "jobs_done": "Jobs the sandboxes finished and reported.",
    "spawned": "Sandboxes forked by the zygote.",
    "spawn_requested": "Sandboxes asked of the zygote.",
    "rejected_overload": "Jobs refused with 503 because the queue was full.",
    "rejected_queue_wait": ("Queued jobs answered 503, never started, because no sandbox was free by their "
                            "start-by time."),
    "sandbox_start_failures": "Sandboxes that failed to start (to confine themselves, or to fork a unit).",
    "units_not_forked": ("Jobs whose unit could not be forked (the sandbox uid's process limit): 503 when "
                         "nothing of the job ran."),
    "zygote_restarts": "Times the sandbox zygote died and was restarted.",
}
KILLS_PREFIX = "kills_"  # the pool counts `kills_<cause>`; exported as one family labelled by cause
KILL_CAUSES = ("backstop", "timeout")  # always exported, so rate() works from the first scrape


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or os.environ.get(MULTIPROC_ENV.lower()) or None


# --- recording ----------------------------------------------------------------------------

def _route() -> str:
    rule = request.url_rule
    return rule.rule if rule is not None else UNMATCHED


def _method() -> str:
    """The request's method as a label: one of a fixed set (bounded cardinality)."""
    method = request.method
    return method if method in KNOWN_METHODS else OTHER_METHOD


def register(app: Flask) -> None:
    """Time and count every request (register before any hook that may refuse one)."""
    @app.before_request
    def _start() -> None:
        g.metrics_started = time.perf_counter()
        HTTP_IN_FLIGHT.inc()

    @app.after_request
    def _count(response: Response) -> Response:
        started = g.pop("metrics_started", None)
        if started is not None:
            HTTP_IN_FLIGHT.dec()
            route, method = _route(), _method()
            HTTP_LATENCY.labels(method, route).observe(time.perf_counter() - started)
            HTTP_REQUESTS.labels(method, route, str(response.status_code)).inc()
        return response

    @app.teardown_request
    def _leaked(_exc: BaseException | None) -> None:
        # after_request did not run (an error while finishing the response): still leave.
        if g.pop("metrics_started", None) is not None:
            HTTP_IN_FLIGHT.dec()

    app.register_blueprint(bp)


def observe_reply(op: str, reply: dict[str, Any]) -> None:
    """Count the outcome of an answered operation (evaluation case statuses, /run results)."""
    if op == "evaluate":
        cases = reply.get("case_results") or []
        for case in cases:
            if isinstance(case, dict):
                status = case.get("status")
                EVALUATION_CASES.labels(status if status in CASE_STATUSES else UNKNOWN_STATUS).inc()
        if reply.get("error"):
            EVALUATIONS.labels("compile_error").inc()
        else:
            EVALUATIONS.labels("passed" if reply.get("passed") else "failed").inc()
    elif op == "evaluate_batch":
        for item in reply.get("results") or []:
            if isinstance(item, dict) and item.get("ok"):
                observe_reply("evaluate", item.get("body") or {})
    elif op == "run":
        if reply.get("timed_out"):
            RUN_COMMANDS.labels("timeout").inc()
        else:
            RUN_COMMANDS.labels("ok" if reply.get("exit_code") == 0 else "nonzero").inc()


class ObservedClient:
    """Wraps the supervisor client: times every operation and counts its outcome.

    It stands in for `SupervisorClient` in `app.extensions["supervisor"]`, so the web tier
    learns about evaluation outcomes without the endpoints knowing about metrics.
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def call(self, op: str, body: dict[str, Any], timeout: float, request_id: str = "") -> dict[str, Any]:
        started = time.perf_counter()
        try:
            reply = self.inner.call(op, body, timeout, request_id=request_id)
        except ServiceError as exc:
            RPC_ERRORS.labels(op, exc.code.value).inc()
            raise
        finally:
            RPC_LATENCY.labels(op).observe(time.perf_counter() - started)
        try:
            observe_reply(op, reply)
        except Exception:  # a metric must never fail a request  # pragma: no cover
            pass
        return reply


def count_route(endpoint: str, op: str) -> None:
    """Count an operation sent to a supervisor (`webapp.router`), so the spread shows."""
    ROUTED.labels(endpoint, op).inc()


# --- scraping -----------------------------------------------------------------------------

_METRIC_NAME = re.compile(r"[^a-zA-Z0-9_]")


class SupervisorCollector:
    """Asks every supervisor for its status at scrape time and exports it.

    With one supervisor the series carry no label (as before there were several); with
    several, each series is labelled `supervisor` with the endpoint.
    """

    def __init__(self, statuses: Callable[[float], list[SupervisorStatus]]) -> None:
        self._statuses = statuses

    def describe(self) -> Iterable[Metric]:
        return []  # never ask the supervisor merely to register the collector

    def collect(self) -> Iterator[Metric]:
        answers = self._statuses(STATUS_TIMEOUT)
        labelled = len(answers) > 1
        families: dict[str, GaugeMetricFamily | CounterMetricFamily] = {}

        def add(kind: type[GaugeMetricFamily] | type[CounterMetricFamily], name: str, help_text: str,
                endpoint: str, value: float, **labels: str) -> None:
            names = (["supervisor"] if labelled else []) + list(labels)
            family = families.get(name)
            if family is None:
                family = families[name] = kind(name, help_text, labels=names)
            family.add_metric(([endpoint] if labelled else []) + list(labels.values()), value)

        for answer in answers:
            _collect_one(add, answer)
        yield from families.values()


def _collect_one(add: Callable[..., None], answer: SupervisorStatus) -> None:
    endpoint, status = answer.endpoint, answer.status
    gauge, counter = GaugeMetricFamily, CounterMetricFamily
    add(gauge, "repl_supervisor_up", "1 if the supervisor answered this scrape's status request.", endpoint,
        0 if status is None else 1)
    if status is None:
        return
    add(gauge, "repl_supervisor_ready",
        "1 if the supervisor accepts jobs, has an idle sandbox, and its sandboxes can run units.", endpoint,
        1 if status.get("ready") else 0)
    add(gauge, "repl_supervisor_info", "How the supervisor confines sandboxes (always 1).", endpoint, 1,
        isolation=str(status.get("isolation", "")), limits_mode=str(status.get("limits_mode", "")))
    for state in ("idle", "busy"):
        add(gauge, "repl_pool_sandboxes", "Pre-forked sandboxes, by state.", endpoint, int(status.get(state, 0)),
            state=state)
    add(gauge, "repl_pool_queue_depth", "Jobs waiting for a free sandbox.", endpoint, int(status.get("queued", 0)))
    counters = {str(k): int(v) for k, v in (status.get("counters") or {}).items()}
    causes = {cause: 0 for cause in KILL_CAUSES}
    causes.update({k[len(KILLS_PREFIX):]: v for k, v in counters.items() if k.startswith(KILLS_PREFIX)})
    for cause, value in sorted(causes.items()):
        add(counter, "repl_sandbox_kills", "Sandboxes or jobs killed by the service, by cause.", endpoint, value,
            cause=cause)
    others = {name: 0 for name in SUPERVISOR_COUNTER_HELP}  # exported from the first scrape on
    others.update({k: v for k, v in counters.items() if not k.startswith(KILLS_PREFIX)})
    for name, value in sorted(others.items()):
        help_text = SUPERVISOR_COUNTER_HELP.get(name, f"The supervisor pool's `{name}` counter.")
        add(counter, f"repl_supervisor_{_METRIC_NAME.sub('_', name)}", help_text, endpoint, value)


class _Forward:
    """Collects another registry (the process's own, outside multiprocess mode)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterable[Metric]:
        return self._registry.collect()


def render(statuses: Callable[[float], list[SupervisorStatus]]) -> bytes:
    """The whole exposition: this tier's metrics (all workers) and the supervisor's."""
    registry = CollectorRegistry()
    directory = multiprocess_dir()
    if directory:
        MultiProcessCollector(registry, path=directory)
    else:
        registry.register(_Forward(REGISTRY))
    registry.register(SupervisorCollector(statuses))
    return generate_latest(registry)


@bp.get("/metrics")
def metrics() -> Response:
    router = current_app.extensions["supervisor"].inner  # the scrape's own RPCs are not API operations
    return Response(render(router.statuses), status=200, content_type=CONTENT_TYPE_LATEST)
