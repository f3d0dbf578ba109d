"""HTTP plumbing: one pooled ``requests.Session``, errors, timeouts, retries.

This module knows HTTP and nothing about the API's endpoints; ``client.py``
knows the endpoints and nothing about HTTP failures. Keeping them apart means
the retry and error rules are written once and apply to every call alike.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Protocol

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import MaxRetryError, NewConnectionError

from .errors import (
    ConnectionFailed,
    InvalidResponse,
    ReplError,
    error_for_status,
    parse_retry_after,
)
from .retry import RetryPolicy, next_wait

__all__ = ["Response", "Transport", "check_base_url", "decode"]

logger = logging.getLogger("repl_client")

#: Marks a body that is not JSON (``None`` is a legitimate JSON value).
_NOT_JSON = object()

#: How much of a non-JSON error body to keep as ``detail``.
_TEXT_DETAIL_LIMIT = 1000


class Transport:
    """Sends JSON requests to one service and returns decoded JSON replies.

    Not safe for concurrent use from several threads (``requests.Session`` is
    not); give each thread its own client.

    Args:
        base_url: ``http(s)://host:port`` with an optional path prefix.
        token: Sent as ``Authorization: Bearer <token>`` when not ``None``.
        connect_timeout: Seconds allowed to open a TCP connection.
        retry: The retry policy applied to every call that allows retries.
        pool_size: Connections kept alive for reuse.
        user_agent: The ``User-Agent`` header.
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None,
        connect_timeout: float,
        retry: RetryPolicy,
        pool_size: int,
        user_agent: str,
    ) -> None:
        self.base_url = check_base_url(base_url)
        self.connect_timeout = connect_timeout
        self.retry = retry
        self._http = _make_session(token, pool_size, user_agent)
        self._closed = False

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has run."""
        return self._closed

    def close(self) -> None:
        """Release pooled connections. Safe to call more than once."""
        if not self._closed:
            self._closed = True
            self._http.close()

    def call(
        self,
        method: str,
        path: str,
        *,
        read_timeout: float,
        idempotent: bool,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        retry: RetryPolicy | None = None,
    ) -> Any:
        """Send one API call, retrying as the policy allows, and decode the reply.

        Args:
            method: ``GET`` or ``POST``.
            path: The endpoint path, starting with ``/``.
            read_timeout: Seconds to wait for the reply once connected; for
                ``run``/``evaluate_code`` it must exceed the sandbox's limit.
            idempotent: Whether the call may be repeated after a transport
                error that happened once the request may have been sent.
            params: Query parameters; ``None`` values are left out.
            body: The JSON body for a POST.
            retry: Overrides the client's policy for this call.

        Returns:
            The decoded JSON of a 2xx reply.

        Raises:
            ReplError: The subclass matching the failure of the last attempt.
            RuntimeError: The client was closed.
        """
        if self._closed:
            raise RuntimeError("ReplClient is closed")
        policy = retry if retry is not None else self.retry
        deadline = policy.clock() + policy.total_time
        failures = 0
        while True:
            try:
                return self._attempt(method, path, params, body, read_timeout)
            except ReplError as error:
                failures += 1
                wait = next_wait(error, idempotent=idempotent, failures=failures, policy=policy, deadline=deadline)
                if wait is None:
                    raise
                logger.info("retrying %s %s in %.2fs after: %s", method, path, wait, error)
                policy.sleep(wait)

    def _attempt(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        body: Any,
        read_timeout: float,
    ) -> Any:
        """Make exactly one HTTP request and decode its reply."""
        query = {key: value for key, value in (params or {}).items() if value is not None}
        try:
            response = self._http.request(
                method,
                self.base_url + path,
                params=query or None,
                json=body,
                timeout=(self.connect_timeout, read_timeout),
                allow_redirects=False,
            )
        except requests.exceptions.RequestException as exc:
            raise _transport_error(method, path, exc) from exc
        return decode(response)


def check_base_url(base_url: str) -> str:
    """``base_url`` without a trailing slash.

    Raises:
        ValueError: It is not an http(s) URL.
    """
    if not base_url.startswith(("http://", "https://")):
        raise ValueError(f"base_url must start with http:// or https://, got {base_url!r}")
    return base_url.rstrip("/")


def _make_session(token: str | None, pool_size: int, user_agent: str) -> requests.Session:
    """Create the pooled session; urllib3's own retries are off (we do our own)."""
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=1, pool_maxsize=pool_size, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = user_agent
    session.headers["Accept"] = "application/json"
    if token is not None:
        session.headers["Authorization"] = f"Bearer {token}"
    return session


def _transport_error(
    method: str, path: str, exc: requests.exceptions.RequestException
) -> ReplError:
    """Wrap a ``requests`` failure that produced no HTTP response."""
    if isinstance(exc, (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema)):
        return ReplError(f"{method} {path}: invalid URL: {exc}")
    return ConnectionFailed(f"{method} {path}: {exc}", request_sent=not _never_sent(exc))


def _never_sent(exc: requests.exceptions.RequestException) -> bool:
    """True only when the request certainly did not reach the server.

    A connect timeout or a refused connection (urllib3's ``NewConnectionError``,
    DNS failures included) happen before a byte of the request is written.
    Anything else (reset, read timeout, proxy or TLS trouble) may come after
    the server got the request, so it counts as sent.
    """
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(exc, requests.exceptions.ConnectionError) and exc.args:
        cause = exc.args[0]
        reason = cause.reason if isinstance(cause, MaxRetryError) else cause
        return isinstance(reason, NewConnectionError)
    return False


class Response(Protocol):
    """What ``decode`` reads of a reply: the surface ``requests`` and ``httpx`` share."""

    @property
    def status_code(self) -> int: ...
    @property
    def text(self) -> str: ...
    @property
    def headers(self) -> Mapping[str, str]: ...
    def json(self) -> Any: ...


def decode(response: Response) -> Any:
    """Return the JSON of a 2xx reply, or raise the error the status calls for."""
    body = _json_body(response)
    if not 200 <= response.status_code < 300:
        raise error_for_status(
            response.status_code,
            _detail(body, response),
            body=None if body is _NOT_JSON else body,
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )
    if body is _NOT_JSON:
        raise InvalidResponse(
            f"HTTP {response.status_code}: reply is not JSON: {response.text[:200]!r}",
            status_code=response.status_code,
            detail=response.text[:_TEXT_DETAIL_LIMIT],
        )
    return body


def _json_body(response: Response) -> Any:
    """The decoded JSON body, or ``_NOT_JSON`` when the body is not JSON."""
    try:
        return response.json()
    except ValueError:
        return _NOT_JSON


def _detail(body: Any, response: Response) -> Any:
    """The server's ``detail``; for a body without one, the body (or its text)."""
    if isinstance(body, dict) and "detail" in body:
        return body["detail"]
    if body is _NOT_JSON:
        return response.text[:_TEXT_DETAIL_LIMIT]
    return body
