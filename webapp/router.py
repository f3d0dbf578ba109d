"""Which supervisor each operation goes to, when the web tier has several.

An operation on a session goes to its owner (`protocol.routing.owner`), so a supervisor
that is down fails its own sessions and nobody else's. What has no session yet is placed:

- `create_session` without an id, and `fork_session`'s copy, get an id minted for the
  chosen supervisor (`protocol.routing.mint`): the least busy one, or for a fork the
  source's own (the copy is made there, from its files);
- an evaluation whose session does not exist runs in a scratch directory that may as
  well be anywhere: the web tier asks the owner first (`require_session`: the owner runs
  it if the session is there, else answers `not_found` at once, without running
  anything), then sends it, under a fresh id nobody has, to the least busy supervisor.

"Least busy" is what this worker process sees: the fewest operations it has in flight to
each supervisor, ties taken in turn, a supervisor that just answered `unavailable`
avoided for a moment. A placed operation that is answered `unavailable` was not run, so
it is tried on the next supervisor. With one endpoint nothing of this happens: every
operation goes straight to it, as before.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from protocol import routing
from protocol.errors import ErrorCode, ServiceError
from webapp.rpc import SupervisorClient

AVOID_SECONDS = 2.0  # a supervisor that answered `unavailable` is placed last for this long

OnRoute = Callable[[str, str], None]  # (endpoint, op), for the metrics


@dataclass(frozen=True)
class SupervisorStatus:
    """One supervisor's answer to `status`, or why it gave none."""

    endpoint: str
    status: dict[str, Any] | None
    detail: Any = None


class Router:
    """Sends each operation to the right supervisor: the `SupervisorClient` interface over many."""

    def __init__(self, clients: list[SupervisorClient], on_route: OnRoute | None = None) -> None:
        self.endpoints = tuple(client.endpoint for client in clients)
        self._clients = {client.endpoint: client for client in clients}
        self._on_route = on_route
        self._lock = threading.Lock()
        self._in_flight = dict.fromkeys(self.endpoints, 0)
        self._avoid_until = dict.fromkeys(self.endpoints, 0.0)
        self._turn = itertools.count()
        self._status_pool: tuple[int, ThreadPoolExecutor] | None = None

    def call(self, op: str, body: dict[str, Any], timeout: float, request_id: str = "") -> dict[str, Any]:
        """Run `op` on the supervisor it belongs to (see the module's docstring).

        Raises:
            ServiceError: as `SupervisorClient.call`.
        """
        session = body.get("id") if isinstance(body.get("id"), str) else None
        if op == "fork_session" and session:
            source = routing.owner(session, self.endpoints)
            return self._send(source, op, {**body, "new_id": routing.mint(source, self.endpoints)}, timeout,
                              request_id)
        if len(self.endpoints) == 1:
            return self._send(self.endpoints[0], op, body, timeout, request_id)
        if op == "create_session" and not session:
            return self._place(op, lambda e: {**body, "id": routing.mint(e, self.endpoints)}, timeout, request_id)
        if op == "evaluate" and session and not body.get("require_session"):
            try:
                return self._send(routing.owner(session, self.endpoints), op, {**body, "require_session": True},
                                  timeout, request_id)
            except ServiceError as exc:
                if exc.code is not ErrorCode.NOT_FOUND:
                    raise
            return self._place(op, lambda _: {**body, "id": str(uuid.uuid4())}, timeout, request_id)
        if session:
            return self._send(routing.owner(session, self.endpoints), op, body, timeout, request_id)
        return self._place(op, lambda _: body, timeout, request_id)

    # --- placement ---------------------------------------------------------------------

    def _place(self, op: str, make_body: Callable[[str], dict[str, Any]], timeout: float,
               request_id: str) -> dict[str, Any]:
        """Run on the least busy supervisor, then the next, while they answer `unavailable`."""
        error: ServiceError | None = None
        for endpoint in self._by_load():
            try:
                return self._send(endpoint, op, make_body(endpoint), timeout, request_id)
            except ServiceError as exc:
                if exc.code is not ErrorCode.UNAVAILABLE:
                    raise
                error = exc
        assert error is not None
        raise error

    def _by_load(self) -> list[str]:
        now = time.monotonic()
        n = len(self.endpoints)
        turn = next(self._turn) % n
        with self._lock:
            return sorted(self.endpoints, key=lambda e: (
                self._avoid_until[e] > now, self._in_flight[e], (self.endpoints.index(e) - turn) % n))

    def _send(self, endpoint: str, op: str, body: dict[str, Any], timeout: float,
              request_id: str) -> dict[str, Any]:
        with self._lock:
            self._in_flight[endpoint] += 1
        if self._on_route is not None:
            self._on_route(endpoint, op)
        try:
            return self._clients[endpoint].call(op, body, timeout, request_id=request_id)
        except ServiceError as exc:
            if exc.code is ErrorCode.UNAVAILABLE:
                with self._lock:
                    self._avoid_until[endpoint] = time.monotonic() + AVOID_SECONDS
            raise
        finally:
            with self._lock:
                self._in_flight[endpoint] -= 1

    # --- status ------------------------------------------------------------------------

    def statuses(self, timeout: float, request_id: str = "") -> list[SupervisorStatus]:
        """Every supervisor's `status`, asked at once (a down one costs its connect wait,
        not everyone's in turn), in the order of the endpoints."""
        def ask(endpoint: str) -> SupervisorStatus:
            try:
                return SupervisorStatus(endpoint, self._clients[endpoint].call("status", {}, timeout,
                                                                               request_id=request_id))
            except ServiceError as exc:
                return SupervisorStatus(endpoint, None, exc.detail)
        if len(self.endpoints) == 1:
            return [ask(self.endpoints[0])]
        return list(self._status_executor().map(ask, self.endpoints))

    def _status_executor(self) -> ThreadPoolExecutor:
        """Threads kept for the status requests (each keeps its sockets), made anew after a fork."""
        with self._lock:
            if self._status_pool is None or self._status_pool[0] != os.getpid():
                self._status_pool = (os.getpid(), ThreadPoolExecutor(len(self.endpoints), "status"))
            return self._status_pool[1]
