"""``evaluate_batch``: what is sent, how long to wait, what the answer means, what to resend.

Shared by both clients, which only add the sending. A batch's result is one item per
submission, in order: an :class:`~repl_client.EvaluationResult` for a submission that ran,
or the exception ``evaluate_code`` would have raised for it (``ServiceUnavailable``,
``OutcomeUnknown``, ``NotFound``, ``ServerError``), built by the one status table of
``errors.py``.

Retries follow ``retry.py``: a 503 item did not run, so those submissions (and only those)
are sent again, as the retry policy's attempts and time budget allow; a 504 item may have
run and is never repeated. A 503 of the whole batch (nothing ran) is retried by the
transport like any 503.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .bodies import evaluation_body, evaluation_judging, evaluation_units, parse
from .deadlines import batch_answer_timeout
from .errors import InvalidResponse, ReplError, ServiceUnavailable, error_for_status
from .results import EvaluationResult
from .retry import RetryPolicy, next_wait

__all__ = ["BatchResult", "BatchRounds", "parse_results"]

#: One submission's outcome.
BatchResult = EvaluationResult | ReplError


def parse_results(reply: Any, count: int) -> list[BatchResult]:
    """The items of an ``/evaluate_batch`` reply to ``count`` submissions.

    Raises:
        InvalidResponse: The reply is not a list of ``count`` results with a status each.
    """
    items = reply.get("results") if isinstance(reply, dict) else None
    if not isinstance(items, list) or len(items) != count:
        raise InvalidResponse(f"reply has no list 'results' of {count} items", status_code=200, body=reply)
    return [_result(item, reply) for item in items]


def _result(item: Any, reply: Any) -> BatchResult:
    status = item.get("status") if isinstance(item, dict) else None
    if not isinstance(status, int):
        raise InvalidResponse("a batch result has no status", status_code=200, body=reply)
    if status == 200:
        return parse(EvaluationResult, item)
    return error_for_status(status, item.get("detail"), body=item)


class BatchRounds:
    """One ``evaluate_batch`` call: the first request, then resends of the 503 items.

    Use: send :meth:`request` with :meth:`read_timeout`, give the reply to :meth:`record`;
    while it returns a number, wait that long and send again; then take :attr:`results`.

    Args:
        submissions: Mappings of ``evaluate_code``'s keyword arguments (``id``, ``code``,
            ``entry_point``, ``io_cases``, and the optional limits).
        policy: The client's retry policy.
    """

    def __init__(self, submissions: Iterable[Mapping[str, Any]], policy: RetryPolicy) -> None:
        self.bodies = [evaluation_body(**submission) for submission in submissions]
        self.policy = policy
        self.pending = list(range(len(self.bodies)))
        self._results: list[BatchResult | None] = [None] * len(self.bodies)
        self._failures = 0
        self._deadline = policy.clock() + policy.total_time

    def request(self) -> dict[str, Any]:
        """The body to send now: the submissions still without an answer."""
        return {"submissions": [self.bodies[i] for i in self.pending]}

    def read_timeout(self) -> float:
        """How long the service may take to answer :meth:`request` (``deadlines``)."""
        return batch_answer_timeout(_limits([self.bodies[i] for i in self.pending]))

    def record(self, reply: Any) -> float | None:
        """Take the answers of the last request; seconds to wait before sending again, or
        ``None`` when the batch is over."""
        for index, result in zip(self.pending, parse_results(reply, len(self.pending)), strict=True):
            self._results[index] = result
        again = [i for i in self.pending if isinstance(self._results[i], ServiceUnavailable)]
        if not again:
            return None
        self._failures += 1
        first = self._results[again[0]]
        assert isinstance(first, ReplError)
        wait = next_wait(first, idempotent=False, failures=self._failures, policy=self.policy, deadline=self._deadline)
        if wait is not None:
            self.pending = again
        return wait

    @property
    def results(self) -> list[BatchResult]:
        """Every submission's outcome, in order (after :meth:`record` returned ``None``)."""
        done = [result for result in self._results if result is not None]
        if len(done) != len(self._results):
            raise RuntimeError("the batch is not over")
        return done


def _limits(bodies: Sequence[Mapping[str, Any]]) -> list[tuple[float | None, int, float]]:
    return [(body.get("timeout"), evaluation_units(body), evaluation_judging(body)) for body in bodies]
