"""Synchronous Python client of the sandboxed Python REPL API.

``from repl_client import ReplClient`` is all most callers need; the result
types and exceptions are re-exported here so callers never import submodules.

Modules, one responsibility each:

* ``client``: :class:`ReplClient`, one method per endpoint.
* ``transport``: the pooled HTTP session, timeouts, error decoding, retry loop.
* ``retry``: :class:`RetryPolicy` and the rule of what may be retried.
* ``deadlines``: how long to wait for ``run`` and ``evaluate_code``.
* ``results``: frozen dataclasses built from replies.
* ``errors``: the exception tree and the status-to-exception table.
"""

__version__ = "1.0.0"

from .client import ReplClient  # noqa: E402  (after __version__, which client uses)
from .errors import (  # noqa: E402
    BadRequest,
    ConnectionFailed,
    InvalidResponse,
    NotFound,
    OutcomeUnknown,
    PayloadTooLarge,
    ReplError,
    ServerError,
    ServiceUnavailable,
    Unauthorized,
    ValidationFailed,
)
from .results import CaseResult, EvaluationResult, FileEntry, RunResult  # noqa: E402
from .retry import RetryPolicy  # noqa: E402

__all__ = [
    "BadRequest",
    "CaseResult",
    "ConnectionFailed",
    "EvaluationResult",
    "FileEntry",
    "InvalidResponse",
    "NotFound",
    "OutcomeUnknown",
    "PayloadTooLarge",
    "ReplClient",
    "ReplError",
    "RetryPolicy",
    "RunResult",
    "ServerError",
    "ServiceUnavailable",
    "Unauthorized",
    "ValidationFailed",
    "__version__",
]
