"""Python client of the sandboxed Python REPL API: synchronous, and asynchronous on httpx.

``from repl_client import ReplClient`` is all most callers need; the result
types and exceptions are re-exported here so callers never import submodules.
``AsyncReplClient`` needs the ``async`` extra (httpx) and is imported on first use,
so the synchronous client works without it.

Modules, one responsibility each:

* ``client``: :class:`ReplClient`, one method per endpoint.
* ``aio``: :class:`AsyncReplClient`, the same methods as coroutines, and its transport.
* ``transport``: the pooled HTTP session, timeouts, error decoding, retry loop.
* ``bodies``: the request bodies and reply parsing both clients share.
* ``batch``: ``evaluate_batch``'s rounds: results per submission, resending 503 items.
* ``retry``: :class:`RetryPolicy` and the rule of what may be retried.
* ``deadlines``: how long to wait for ``run``, ``evaluate_code`` and ``evaluate_batch``.
* ``results``: frozen dataclasses built from replies.
* ``errors``: the exception tree and the status-to-exception table.
* ``eval``: the ``repl-eval`` command, which judges a data set's samples and reports pass@k
  (imported only when run: ``import repl_client`` does not load it or tqdm).
"""

from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from .aio import AsyncReplClient


def __getattr__(name: str) -> Any:
    """Import ``AsyncReplClient`` (and httpx) only when it is asked for."""
    if name == "AsyncReplClient":
        from .aio import AsyncReplClient

        return AsyncReplClient
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AsyncReplClient",
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
