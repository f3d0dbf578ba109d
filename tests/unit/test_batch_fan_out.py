"""supervisor.batch.fan_out: the window, the order of answers, and failures kept per item."""

from __future__ import annotations

from typing import Any

from protocol.errors import ErrorCode, ServiceError
from supervisor.batch import Reply, fan_out


class Recorder:
    """Starts nothing: keeps each item's answer function, so a test answers when it likes."""

    def __init__(self) -> None:
        self.started: dict[int, Reply] = {}
        self.replies: list[tuple[dict[str, Any] | None, ServiceError | None]] = []

    def start(self, item: int, answer: Reply) -> None:
        self.started[item] = answer

    def reply(self, body: dict[str, Any] | None, error: ServiceError | None) -> None:
        self.replies.append((body, error))


def test_at_most_window_items_run_and_answers_keep_submission_order() -> None:
    rec = Recorder()
    fan_out([0, 1, 2, 3, 4], rec.start, 2, rec.reply)
    assert set(rec.started) == {0, 1}
    rec.started[1]({"n": 1}, None)
    assert set(rec.started) == {0, 1, 2}
    for item in (2, 0):
        rec.started[item]({"n": item}, None)
    assert set(rec.started) == {0, 1, 2, 3, 4}
    rec.started[4]({"n": 4}, None)
    assert rec.replies == []  # item 3 is still running
    rec.started[3](None, ServiceError(ErrorCode.OUTCOME_UNKNOWN, "lost"))
    [(body, error)] = rec.replies
    assert error is None and body is not None
    assert body["results"] == [{"ok": True, "body": {"n": 0}}, {"ok": True, "body": {"n": 1}},
                               {"ok": True, "body": {"n": 2}},
                               {"ok": False, "error": {"code": "outcome_unknown", "detail": "lost"}},
                               {"ok": True, "body": {"n": 4}}]


def test_items_answered_while_starting_and_items_that_raise() -> None:
    replies: list[Any] = []

    def start(item: int, answer: Reply) -> None:
        if item == 1:
            raise ServiceError(ErrorCode.UNAVAILABLE, "queue full")
        if item == 2:
            raise RuntimeError("a bug")
        answer({"n": item}, None)
        answer({"n": -1}, None)  # a second answer of the same item is ignored

    fan_out([0, 1, 2, 3], start, 1, lambda body, error: replies.append((body, error)))
    [(body, error)] = replies
    assert error is None
    assert [r["ok"] for r in body["results"]] == [True, False, False, True]
    assert body["results"][1]["error"]["code"] == "unavailable"
    assert body["results"][2]["error"] == {"code": "internal", "detail": "internal error"}
    assert body["results"][3]["body"] == {"n": 3}


def test_a_batch_none_of_which_started_is_unavailable_as_a_whole() -> None:
    replies: list[Any] = []

    def start(item: int, answer: Reply) -> None:
        answer(None, ServiceError(ErrorCode.UNAVAILABLE, "the supervisor is shutting down"))

    fan_out([0, 1, 2], start, 8, lambda body, error: replies.append((body, error)))
    [(body, error)] = replies
    assert body is None and error is not None and error.code is ErrorCode.UNAVAILABLE
    assert "shutting down" in error.detail


def test_one_unavailable_beside_one_that_ran_is_no_whole_failure() -> None:
    replies: list[Any] = []

    def start(item: int, answer: Reply) -> None:
        if item == 0:
            answer(None, ServiceError(ErrorCode.UNAVAILABLE, "queue full"))
        else:
            answer({}, None)

    fan_out([0, 1], start, 8, lambda body, error: replies.append((body, error)))
    [(body, error)] = replies
    assert error is None and [r["ok"] for r in body["results"]] == [False, True]
