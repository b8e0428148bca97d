"""The core's side of contract 8.7, pure: call this ticket, undo, move, walkouts, entry."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from agent.core.estimate import WaitEstimator
from agent.core.queue import (
    LeftReason,
    QueueBook,
    QueueRuleError,
    TicketState,
    entry_calls,
    moved,
)
from tests.unit.test_queue_core import T0, book_with, ticket


def test_call_this_ticket_carries_the_counter_and_refuses_a_ticket_not_waiting() -> None:
    book = book_with(3)
    called, events = book.call(book.get("t3"), T0, "tablet", "2")  # type: ignore[arg-type]
    assert called.state == TicketState.CALLED and called.counter == "2"
    assert events[0].data() == {"queue": "advice", "ticket_id": "t3", "number": 3, "counter": "2"}
    book.apply(called)
    with pytest.raises(QueueRuleError, match="not_waiting"):
        book.call(called, T0, "tablet")
    assert [t.id for t in book.waiting()] == ["t1", "t2"]


@pytest.mark.parametrize("end", ["served", "no_show", "leave"])
def test_undo_restores_the_state_it_came_from_within_the_minute(end: str) -> None:
    book = book_with(2)
    called, _ = book.call_next(T0, "tablet", "1")
    book.apply(called)
    at = T0 + timedelta(minutes=3)
    if end == "leave":
        done, _ = book.leave(called, at, LeftReason.STAFF)
    else:
        done, _ = getattr(book, end)(called, at)
    assert not done.active and done.undo_state == TicketState.CALLED
    book.apply(done)
    with pytest.raises(QueueRuleError, match="nothing_to_undo"):
        book.undo(done, at + timedelta(seconds=60))
    restored, events = book.undo(done, at + timedelta(seconds=59.9))
    assert restored.state == TicketState.CALLED and restored.ended_at is None
    assert restored.counter == "1" and restored.left_reason is None and restored.undo_state is None
    assert events[0].type == "queue.undone"
    assert events[0].data()["undone"] == done.state.value
    assert events[0].data()["state"] == "called"
    with pytest.raises(QueueRuleError, match="nothing_to_undo"):
        book.undo(restored, at)  # live: nothing to undo


def test_what_staff_did_not_do_is_not_undone() -> None:
    book = book_with(2)
    called, _ = book.call_next(T0, None)
    auto, _ = book.no_show(called, T0, by_staff=False)
    left, _ = book.leave(book.get("t2"), T0)  # type: ignore[arg-type]
    walked, _ = book.leave(book.get("t2"), T0, LeftReason.WALKED_OUT)  # type: ignore[arg-type]
    assert left.left_reason == LeftReason.CUSTOMER and walked.left_reason == LeftReason.WALKED_OUT
    for ended in (auto, left, walked):
        with pytest.raises(QueueRuleError, match="nothing_to_undo"):
            book.undo(ended, T0)


def test_undo_of_a_staff_leave_puts_a_waiting_ticket_back_in_its_place() -> None:
    book = book_with(3)
    out, events = book.leave(book.get("t2"), T0, LeftReason.STAFF)  # type: ignore[arg-type]
    assert events[0].data()["reason"] == "staff"
    book.apply(out)
    assert [t.id for t in book.waiting()] == ["t1", "t3"]
    back, _ = book.undo(out, T0 + timedelta(seconds=10))
    book.apply(back)
    assert [t.id for t in book.waiting()] == ["t1", "t2", "t3"]


def test_a_moved_ticket_takes_its_place_by_join_time_and_a_new_number() -> None:
    source = book_with(4)  # joined at T0 + 1..4 minutes
    target = QueueBook("pickup")
    for n, minutes in ((10, 0), (11, 2), (12, 5)):
        target.apply(replace(ticket(n, target), created_at=T0 + timedelta(minutes=minutes)))
    mover = source.get("t3")  # joined at T0 + 3 min: between pickup's 11 and 12
    assert mover is not None
    placed = target.admit(mover)
    result, events = moved(placed, 4, "advice", mover.number)
    source.discard(mover.id)
    target.apply(result)
    assert [t.id for t in target.waiting()] == ["t10", "t11", "t3", "t12"]
    assert result.queue == "pickup" and result.number == 4 and result.created_at == mover.created_at
    assert events[0].data() == {
        "queue": "pickup", "ticket_id": "t3", "number": 4, "from_queue": "advice", "from_number": 3,
    }  # fmt: skip
    assert [t.id for t in source.waiting()] == ["t1", "t2", "t4"]
    # Before everyone who joined later, after everyone who joined earlier; first and last too.
    keys = [t.sort_key for t in target.waiting()]
    t1 = source.get("t1")  # joined at T0 + 1 min: between pickup's 10 and 11
    assert t1 is not None
    assert keys[0] < target.admit(t1).sort_key < keys[1]
    assert target.admit(replace(t1, created_at=T0 - timedelta(minutes=1))).sort_key < keys[0]
    assert target.admit(replace(t1, created_at=T0 + timedelta(hours=1))).sort_key > keys[-1]
    with pytest.raises(QueueRuleError, match="same_queue"):
        source.admit(source.get("t2"))  # type: ignore[arg-type]


def test_a_walkout_is_due_after_the_grace_unless_the_holder_is_seen_again() -> None:
    book = book_with(2)
    holder = book.get("t1")
    assert holder is not None
    pending, events = book.visit_ended(holder, T0, 120)
    assert events == [] and pending.walkout_at == T0 + timedelta(seconds=120)
    book.apply(pending)
    # A second departure does not push the walkout back.
    again, _ = book.visit_ended(pending, T0 + timedelta(seconds=60), 120)
    assert again.walkout_at == pending.walkout_at
    assert book.walk_out_due(T0 + timedelta(seconds=119)) == []
    assert [t.id for t in book.walk_out_due(T0 + timedelta(seconds=120))] == ["t1"]
    seen, _ = book.check_in(pending, T0 + timedelta(seconds=100), "ble")
    book.apply(seen)
    assert seen.walkout_at is None and book.walk_out_due(T0 + timedelta(hours=1)) == []


def test_the_estimator_forgets_an_undone_sample_only() -> None:
    estimator = WaitEstimator(default_service_s=300, servers=1)
    for sample in (100.0, 200.0, 100.0):
        estimator.record_service(sample)
    estimator.forget(100.0)
    estimator.forget(999.0)  # never learnt: nothing happens
    assert list(estimator._per_call) == [100.0, 200.0]


@pytest.mark.parametrize(
    ("capacity", "inside", "called", "waiting", "calls"),
    [(10, 7, 0, 5, 3), (10, 7, 2, 5, 1), (10, 10, 0, 5, 0), (10, 12, 0, 5, 0), (10, 0, 0, 2, 2)],
)
def test_an_entry_queue_never_calls_the_store_above_capacity(
    capacity: int, inside: int, called: int, waiting: int, calls: int
) -> None:
    assert entry_calls(capacity, inside, called, waiting) == calls
