"""Request ids: one per HTTP request, made by the web tier, carried to the supervisor.

The id ties the web tier's access line to the supervisor's job line. A client (or a proxy
in front of the service) may choose it with an `X-Request-ID` header; it is honoured only
when it is 1-64 characters of `[A-Za-z0-9._-]`, so whatever a client sends can neither
forge a log line (no newline, no control character) nor bloat one. Anything else is
replaced by a fresh id rather than refused: the id is for tracing, never a reason to fail
a request. The supervisor applies the same check to what arrives in the envelope.
"""

from __future__ import annotations

import re
import uuid

HEADER = "X-Request-ID"
MAX_LENGTH = 64
_VALID = re.compile(rf"[A-Za-z0-9._-]{{1,{MAX_LENGTH}}}")


def new() -> str:
    """A fresh id: 32 lowercase hex digits (a UUID4)."""
    return uuid.uuid4().hex


def accept(value: object) -> str | None:
    """`value` if it is a well-formed request id, else None."""
    if isinstance(value, str) and _VALID.fullmatch(value):
        return value
    return None
