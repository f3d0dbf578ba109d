"""When to try a request again, and how long to wait first.

Three kinds of failure are worth another attempt, and only three:

* **503 Service Unavailable.** The service answers 503 only when the operation
  was not executed (supervisor down, queue full, no sandbox free in time,
  draining), so repeating is safe for every call, ``run`` and
  ``evaluate_code`` included. The server's ``Retry-After`` is honoured: we
  never come back sooner than it asks.
* **504** (:class:`~repl_client.errors.OutcomeUnknown`): the operation was sent
  and may have run. Only idempotent calls are repeated, as for a transport
  error after the request was sent.
* **Transport errors** (:class:`~repl_client.errors.ConnectionFailed`). If the
  request certainly never left (connection refused, connect timeout), any call
  may be repeated. If it may have reached the server (reset mid-reply, read
  timeout), only idempotent calls are repeated: doing them twice leaves the same
  state as doing them once. The client marks each call (see ``client.py``).

Everything else (4xx, other 5xx, a malformed reply) is final: a repeat would
fail the same way. Attempts are bounded both in number and in total time so a
dead service gives a prompt, clear error rather than a hang.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from .errors import ConnectionFailed, OutcomeUnknown, ReplError, ServiceUnavailable

__all__ = ["RetryPolicy", "is_retryable", "next_wait", "retry_hint"]


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds and pacing of retries; one per client.

    Attributes:
        max_attempts: Total tries per call, the first included (1 disables retry).
        backoff_base: Delay in seconds before the second try; doubled for each
            later one (exponential backoff).
        backoff_max: Cap on one backoff delay. A larger ``Retry-After`` is
            still honoured, within ``total_time``.
        total_time: Budget in seconds for a whole call, attempts and waits
            included; a wait that would overrun it is not started.
        jitter: Spread each backoff over [50 %, 100 %] of its value so many
            clients do not return in lock step.
        sleep: How to wait; replaceable in tests.
        async_sleep: How :class:`~repl_client.AsyncReplClient` waits; replaceable in tests.
        clock: A monotonic clock in seconds; replaceable in tests.
    """

    max_attempts: int = 4
    backoff_base: float = 0.25
    backoff_max: float = 4.0
    total_time: float = 30.0
    jitter: bool = True
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)
    async_sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep, repr=False, compare=False)
    clock: Callable[[], float] = field(default=time.monotonic, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if min(self.backoff_base, self.backoff_max, self.total_time) < 0:
            raise ValueError("backoff and total_time must not be negative")

    def delay(self, failures: int, retry_after: float | None) -> float:
        """Seconds to wait after the ``failures``-th failed attempt.

        Args:
            failures: How many attempts have failed so far (1 after the first).
            retry_after: The server's ``Retry-After`` in seconds, if any.

        Returns:
            ``retry_after`` when the server gave one (it knows its load better
            than we do), else the capped, jittered exponential backoff.
        """
        if retry_after is not None:
            return retry_after
        backoff = min(self.backoff_max, self.backoff_base * 2.0 ** (failures - 1))
        return backoff * random.uniform(0.5, 1.0) if self.jitter else backoff


#: A policy that never retries, for probes and for callers with their own loop.
NO_RETRY = RetryPolicy(max_attempts=1)


def is_retryable(error: ReplError, *, idempotent: bool) -> bool:
    """Decide whether ``error`` justifies another attempt of the same call.

    Args:
        error: What the last attempt raised.
        idempotent: Whether repeating the call after it took effect is harmless.

    Returns:
        True for a 503, for a transport error before the request was sent, and
        for a 504 or any transport error of an idempotent call; False otherwise.
    """
    if isinstance(error, ServiceUnavailable):
        return True
    if isinstance(error, OutcomeUnknown):
        return idempotent
    if isinstance(error, ConnectionFailed):
        return idempotent or not error.request_sent
    return False


def retry_hint(error: ReplError) -> float | None:
    """The server's ``Retry-After`` carried by ``error``, if it has one."""
    return error.retry_after if isinstance(error, ServiceUnavailable) else None


def next_wait(
    error: ReplError, *, idempotent: bool, failures: int, policy: RetryPolicy, deadline: float
) -> float | None:
    """Seconds to wait before the next attempt of a call, or ``None`` to give up.

    The whole retry rule in one place, for the sync and the async transport alike: the
    error must be retryable for this call, attempts and the time budget must be left.

    Args:
        error: What the last attempt raised.
        idempotent: Whether repeating the call after it took effect is harmless.
        failures: How many attempts have failed so far, the last one included.
        policy: The call's retry policy.
        deadline: ``policy.clock()`` time by which the call must be over.
    """
    if failures >= policy.max_attempts or not is_retryable(error, idempotent=idempotent):
        return None
    wait = policy.delay(failures, retry_hint(error))
    return wait if policy.clock() + wait <= deadline else None
