"""Typed exceptions raised by the client, and the one table that picks them.

Every failure a caller can meet is a :class:`ReplError`, so ``except ReplError``
is enough for code that only wants to log and move on, while code that wants to
react (create a missing session, back off, fix a request) catches the subclass
it cares about. Each exception carries the HTTP status and the server's
``detail`` verbatim, because the service's messages ("Session does not exist",
the validation errors of a 422) are the useful part of a failure.

The mapping from status code to class lives in :data:`STATUS_ERRORS` and
nowhere else; :func:`error_for_status` is the only function that consults it.
"""

from __future__ import annotations

import email.utils
import time
from typing import Any

__all__ = [
    "BadRequest",
    "ConnectionFailed",
    "InvalidResponse",
    "NotFound",
    "OutcomeUnknown",
    "PayloadTooLarge",
    "ReplError",
    "STATUS_ERRORS",
    "ServerError",
    "ServiceUnavailable",
    "Unauthorized",
    "ValidationFailed",
    "error_for_status",
    "parse_retry_after",
]


class ReplError(Exception):
    """Base class of every error the client raises.

    Also raised as-is for an HTTP error status that has no class of its own
    (a 405 from a proxy, say), so no failure escapes the hierarchy.

    Attributes:
        status_code: The HTTP status, or ``None`` when no response arrived.
        detail: The server's ``detail`` field: a string, or for a 422 the list
            of validation errors. For a non-JSON error body, its text.
        body: The whole decoded JSON body when there was one, else ``None``;
            kept for fields a newer server may add next to ``detail``.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        detail: Any = None,
        body: Any = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.detail = detail
        self.body = body


class BadRequest(ReplError):
    """400: the request was well formed but refused (missing session, bad path)."""


class Unauthorized(ReplError):
    """401: the service wants ``Authorization: Bearer <token>`` and did not get it."""


class NotFound(ReplError):
    """404: the session or file named in the request does not exist."""


class PayloadTooLarge(ReplError):
    """413: the body passed the service's limit, or a write passed the disk quota."""


class ValidationFailed(ReplError):
    """422: the request did not match the schema (bad id, limit above maximum).

    ``detail`` is the list of validation errors as the server sent them.
    """

    @property
    def errors(self) -> list[Any]:
        """The validation errors as a list, whatever shape ``detail`` had."""
        if isinstance(self.detail, list):
            return self.detail
        return [] if self.detail is None else [self.detail]


class ServiceUnavailable(ReplError):
    """503: the supervisor is down or overloaded; the operation was not run.

    Attributes:
        retry_after: Seconds the server asked us to wait (from ``Retry-After``),
            or ``None`` when it gave no usable hint.
    """

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ServerError(ReplError):
    """Any 5xx other than 503: a fault of the service, not of the request."""


class OutcomeUnknown(ServerError):
    """504: the operation was sent, and may have run, in part or in full.

    The service answers it when a job's sandbox died or was killed mid-job, or when it
    lost the supervisor's answer. Unlike a 503 it is not safe to repeat blindly: the
    client retries it only for idempotent calls (see ``retry.py``); for ``run`` and
    ``evaluate_code``, look at the session before deciding.
    """


class InvalidResponse(ReplError):
    """A success status whose body is not the JSON the API promises.

    Usually a proxy answering in place of the service, or a base URL that
    points at something else.
    """


class ConnectionFailed(ReplError):
    """No HTTP response: connection refused or reset, DNS failure, timeout.

    Attributes:
        request_sent: ``False`` only when the request certainly never reached
            the server (connection refused, connect timeout), so even a
            non-idempotent call is safe to repeat. ``True`` means the server may
            have received it and may have acted on it.
    """

    def __init__(self, message: str, *, request_sent: bool) -> None:
        super().__init__(message)
        self.request_sent = request_sent


#: Status code -> exception class. Other 5xx map to ServerError and every
#: other error status to ReplError itself (see error_for_status).
STATUS_ERRORS: dict[int, type[ReplError]] = {
    400: BadRequest,
    401: Unauthorized,
    404: NotFound,
    413: PayloadTooLarge,
    422: ValidationFailed,
    503: ServiceUnavailable,
    504: OutcomeUnknown,
}


def error_for_status(
    status_code: int,
    detail: Any,
    *,
    body: Any = None,
    retry_after: float | None = None,
) -> ReplError:
    """Build the exception for an error response.

    Args:
        status_code: The HTTP status of the response (>= 400).
        detail: The server's ``detail`` (or the body text when not JSON).
        body: The decoded JSON body, if any.
        retry_after: Parsed ``Retry-After``; only used for a 503.

    Returns:
        An instance of the class :data:`STATUS_ERRORS` names, else
        :class:`ServerError` for a 5xx, else :class:`ReplError`.
    """
    cls = STATUS_ERRORS.get(status_code)
    if cls is None:
        cls = ServerError if status_code >= 500 else ReplError
    message = f"HTTP {status_code}: {_describe(detail)}"
    kwargs: dict[str, Any] = {"status_code": status_code, "detail": detail, "body": body}
    if cls is ServiceUnavailable:
        return ServiceUnavailable(message, retry_after=retry_after, **kwargs)
    return cls(message, **kwargs)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Turn a ``Retry-After`` header into seconds to wait.

    Both forms of RFC 9110 are accepted: delay-seconds and an HTTP date.

    Args:
        value: The header value, or ``None`` when absent.
        now: The current Unix time, for tests; defaults to ``time.time()``.

    Returns:
        A non-negative number of seconds, or ``None`` when the header is
        missing or unreadable (the caller then falls back to its own backoff).
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def _describe(detail: Any) -> str:
    """Render ``detail`` for an exception message, readable for 422 lists too."""
    if isinstance(detail, list):
        return "; ".join(_describe_validation_error(item) for item in detail) or "validation failed"
    if detail is None or detail == "":
        return "no detail"
    return str(detail)


def _describe_validation_error(item: Any) -> str:
    """Render one pydantic-style error ``{loc, msg, ...}`` as ``loc: msg``."""
    if not isinstance(item, dict):
        return str(item)
    loc = item.get("loc")
    where = ".".join(str(part) for part in loc) if isinstance(loc, (list, tuple)) else loc
    message = item.get("msg", item)
    return f"{where}: {message}" if where else str(message)
