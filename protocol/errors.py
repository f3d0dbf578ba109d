"""The closed set of error codes that travel over the wire.

The supervisor answers a failed operation with one `ErrorCode` and a human `detail`; the
web tier turns the code into an HTTP status in exactly one place (`webapp.errors`).

Two codes say the operation failed for a reason of the service, and they differ in the
one thing a caller must know before retrying: `UNAVAILABLE` promises the operation was
not executed (a retry is always safe), `OUTCOME_UNKNOWN` says it may have been, in part
or in full (retry only what is idempotent). `INTERNAL` is a bug of ours. docs/api.md
lists them with their HTTP statuses.
"""

from __future__ import annotations

import enum
from typing import Any


class ErrorCode(enum.StrEnum):
    """Why an operation failed. Adding a member means adding its HTTP status too."""

    BAD_REQUEST = "bad_request"          # the request is well-formed but cannot be done
    UNAUTHORIZED = "unauthorized"        # missing or wrong API token
    NOT_FOUND = "not_found"              # session or file does not exist
    TOO_LARGE = "too_large"              # body, file or quota exceeded
    INVALID = "invalid"                  # schema validation failed
    UNSUPPORTED_VERSION = "unsupported_version"  # wire protocol major version mismatch
    UNAVAILABLE = "unavailable"          # not executed: supervisor down, overloaded or shutting down
    OUTCOME_UNKNOWN = "outcome_unknown"  # started, then lost (sandbox died, reply never came)
    INTERNAL = "internal"                # a bug: logged on the server, never detailed


class ServiceError(Exception):
    """An operation failure with a code and a detail safe to show to the client.

    `cause` is a short word for the logs of the side that raised it (`queue_full`,
    `backstop`, `sandbox_died`...): finer than the code, and never sent over the wire.
    """

    def __init__(self, code: ErrorCode, detail: Any, cause: str | None = None) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.cause = cause

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code.value, "detail": self.detail}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ServiceError:
        """Rebuild an error from the wire; an unknown code becomes INTERNAL."""
        try:
            code = ErrorCode(data.get("code", ""))
        except ValueError:
            code = ErrorCode.INTERNAL
        return cls(code, data.get("detail", "internal error"))
