"""A batch: many submissions run side by side and answered together, in order.

Each submission is started as an operation of its own (for `evaluate_batch`, an
`operations.evaluate`: its session's lane, the pool's queue limit and start-by time, its
own budget and backstop), so a batch gets no rule of its own about sandboxes, and one
submission's failure is that submission's answer alone. At most `window` submissions are
under way at once (`protocol.budget.batch_window`): the next one starts when one ends,
which is what bounds the batch's time (`protocol.budget.rpc_timeout`).

The reply is `{"results": [...]}` in submission order, each item as the wire envelope
carries an answer: `{"ok": true, "body": {...}}` or `{"ok": false, "error": {"code",
"detail"}}` (the web tier turns each into what the single endpoint would have answered).
When no submission was started (every one UNAVAILABLE: shutting down, the queue full),
the whole batch is answered UNAVAILABLE, so "503: nothing ran, retry" holds for it too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from protocol.errors import ErrorCode, ServiceError

log = logging.getLogger("supervisor.batch")

Item = TypeVar("Item")
Reply = Callable[[dict[str, Any] | None, ServiceError | None], None]
Start = Callable[[Item, Reply], None]


def fan_out(items: Sequence[Item], start: Start[Item], window: int, reply: Reply) -> None:
    """Run `start(item, answer)` for every item, at most `window` at a time, and `reply`
    once with every answer in order when the last one has come."""
    _Batch(items, start, max(window, 1), reply).launch()


class _Batch(Generic[Item]):
    def __init__(self, items: Sequence[Item], start: Start[Item], window: int, reply: Reply) -> None:
        self.items = items
        self.start = start
        self.window = window
        self.reply = reply
        self.results: list[dict[str, Any] | None] = [None] * len(items)
        self.next = 0
        self.running = 0
        self.launching = False
        self.answered = False

    def launch(self) -> None:
        """Start submissions while the window has room; answer once all have ended.

        A submission may be answered while it is being started (the queue is full): the
        loop then goes on instead of recursing, and the answer is sent after it.
        """
        if self.launching:
            return
        self.launching = True
        try:
            while self.next < len(self.items) and self.running < self.window:
                index, self.next = self.next, self.next + 1
                self.running += 1
                self._start(index)
        finally:
            self.launching = False
        if self.next == len(self.items) and self.running == 0:
            self._answer()

    def _start(self, index: int) -> None:
        answer = self._answer_of(index)
        try:
            self.start(self.items[index], answer)
        except ServiceError as exc:
            answer(None, exc)
        except Exception:  # noqa: BLE001 - one submission's bug must not cost the others their answers
            log.exception("starting submission %d of a batch failed", index)
            answer(None, ServiceError(ErrorCode.INTERNAL, "internal error"))

    def _answer_of(self, index: int) -> Reply:
        def answer(body: dict[str, Any] | None, error: ServiceError | None) -> None:
            if self.results[index] is not None:
                return  # the first answer of a submission is its answer
            if error is not None:
                self.results[index] = {"ok": False, "error": error.to_dict()}
            else:
                self.results[index] = {"ok": True, "body": body or {}}
            self.running -= 1
            self.launch()
        return answer

    def _answer(self) -> None:
        if self.answered:
            return
        self.answered = True
        results = [result or {} for result in self.results]
        if all(not r.get("ok") and r.get("error", {}).get("code") == ErrorCode.UNAVAILABLE for r in results):
            first = results[0]["error"]["detail"] if results else "empty batch"
            self.reply(None, ServiceError(ErrorCode.UNAVAILABLE, f"no submission of the batch was started: {first}",
                                          cause="batch_unavailable"))
            return
        self.reply({"results": results}, None)
