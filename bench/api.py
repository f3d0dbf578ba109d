"""A minimal HTTP client of the service, and the loopback rule every URL must obey.

Deliberately thin and independent of the project's own client: the harness must measure
the wire API as any caller sees it, and must keep working while the client library changes.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit

import requests

from bench.answers import WrongAnswer

#: Seconds a single HTTP request may take before it counts as an error.
DEFAULT_HTTP_TIMEOUT_S = 30.0


class HttpError(Exception):
    """The target answered with an unexpected HTTP status.

    Attributes:
        status: The HTTP status code received.
    """

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def require_loopback(url: str) -> str:
    """Returns ``url`` without a trailing slash if its host is a loopback address.

    The harness generates heavy load; it must never be pointed at another machine by
    mistake, so any host that resolves to a non-loopback address is refused.

    Raises:
        ValueError: If the URL is not ``http://host:port`` on a loopback host.
    """
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"expected http://host:port, got {url!r}")
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 80, proto=socket.IPPROTO_TCP)
    except socket.gaierror as error:
        raise ValueError(f"cannot resolve {parts.hostname!r}: {error}") from error
    addresses = {str(info[4][0]) for info in infos}
    outside = [a for a in addresses if not ipaddress.ip_address(a.split("%")[0]).is_loopback]
    if outside:
        raise ValueError(f"{parts.hostname!r} resolves to non-loopback {sorted(outside)}")
    return url.rstrip("/")


class ApiClient:
    """JSON over HTTP to one base URL, with its own connection pool.

    One instance per client thread: ``requests.Session`` is not meant to be shared between
    threads, and a private session keeps a warm keep-alive connection per client, as a
    real caller would have.
    """

    def __init__(
        self, base_url: str, token: str | None = None, timeout: float = DEFAULT_HTTP_TIMEOUT_S
    ) -> None:
        self.base_url = base_url
        self.timeout = timeout
        self._http = requests.Session()
        # Loopback only: proxy and CA-bundle variables of the environment do not apply, and
        # honouring them costs requests milliseconds per call on some machines, which would
        # be measured as if it were the service's.
        self._http.trust_env = False
        if token:
            self._http.headers["Authorization"] = f"Bearer {token}"

    def post(self, path: str, body: dict[str, Any], expect: int = 200) -> Any:
        """POSTs ``body`` as JSON and returns the decoded reply.

        Raises:
            HttpError: If the status is not ``expect``.
            requests.RequestException: On a transport error or timeout.
        """
        reply = self._http.post(self.base_url + path, json=body, timeout=self.timeout)
        return _decode(reply, "POST", path, expect)

    def get(self, path: str, params: dict[str, str] | None = None, expect: int = 200) -> Any:
        """GETs ``path`` with query ``params`` and returns the decoded reply.

        Raises:
            HttpError: If the status is not ``expect``.
            requests.RequestException: On a transport error or timeout.
        """
        reply = self._http.get(self.base_url + path, params=params, timeout=self.timeout)
        return _decode(reply, "GET", path, expect)

    def close(self) -> None:
        """Closes the pooled connections."""
        self._http.close()


def _decode(reply: requests.Response, method: str, path: str, expect: int) -> Any:
    """Checks the status and decodes the JSON body of a reply."""
    if reply.status_code != expect:
        detail = " ".join(reply.text.split())[:200]
        raise HttpError(f"{method} {path}: HTTP {reply.status_code}: {detail}", reply.status_code)
    try:
        return reply.json()
    except ValueError as error:
        raise WrongAnswer(f"{method} {path}: body is not JSON: {reply.text[:100]!r}") from error
