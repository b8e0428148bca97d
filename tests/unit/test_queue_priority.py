"""Priority classes in the core, pure (issue 14): a class is a bounded head start on the join
time, so a priority customer goes ahead of those who joined within it, and nobody is held
back for ever by a stream of priority customers (the rule in docs/queue.md)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from agent.core.priority import effective_join
from agent.core.queue import QueueBook, QueueRuleError, Ticket, TicketState
from tests.unit.test_queue_core import T0

HEAD_STARTS = {"mobility": 600.0, "vip": 300.0}


def join_at(book: QueueBook, n: int, minute: float, priority: str | None = None) -> Ticket:
    """Ticket n joins at T0 + minute, in ``priority`` from the start (a tier at join)."""
    draft = Ticket(
        id=f"t{n}", queue=book.queue, number=n, state=TicketState.WAITING,
        sort_key=book.next_sort_key(), created_at=T0 + timedelta(minutes=minute),
        secret_hash="h", priority=priority,
    )  # fmt: skip
    if priority is not None:
        draft = replace(draft, sort_key=book.place(draft))
    joined, _ = book.join(draft)
    book.apply(joined)
    return joined


def numbers(book: QueueBook) -> list[int]:
    return [t.number for t in book.waiting()]


def test_a_priority_goes_ahead_of_those_who_joined_within_its_head_start_only() -> None:
    book = QueueBook("advice", head_starts=HEAD_STARTS)
    for n, minute in ((1, 0), (2, 5), (3, 8), (4, 14)):
        join_at(book, n, minute)
    # Ticket 4 joined at 14 min; 10 min of head start: ordered as if it joined at 4 min.
    marked, events = book.prioritise(book.get("t4"), "mobility")  # type: ignore[arg-type]
    book.apply(marked)
    assert numbers(book) == [1, 4, 2, 3]
    assert book.position("t4") == 2
    assert events[0].type == "queue.prioritised"
    assert events[0].data() == {
        "queue": "advice", "ticket_id": "t4", "number": 4, "priority": "mobility",
        "previous": None, "source": "staff",
    }  # fmt: skip
    # Another class, a smaller head start (5 min: as if at 9 min): behind 3 (8 min).
    marked, events = book.prioritise(marked, "vip")
    book.apply(marked)
    assert numbers(book) == [1, 2, 3, 4] and events[0].data()["previous"] == "mobility"
    # Taken out: back to its join-time place (last).
    unmarked, events = book.prioritise(marked, None)
    book.apply(unmarked)
    assert numbers(book) == [1, 2, 3, 4] and unmarked.priority is None
    assert events[0].data()["priority"] is None


def test_marking_the_class_it_has_changes_nothing_and_a_bad_mark_is_refused() -> None:
    book = QueueBook("advice", head_starts=HEAD_STARTS)
    join_at(book, 1, 0)
    two = join_at(book, 2, 1, "vip")
    same, events = book.prioritise(two, "vip")
    assert same == two and events == []
    with pytest.raises(QueueRuleError, match="unknown_priority"):
        book.prioritise(two, "royalty")
    called, _ = book.call_next(T0 + timedelta(minutes=2), None)
    book.apply(called)
    assert called.id == "t2"  # joined 1 min after ticket 1 with 5 min of head start
    with pytest.raises(QueueRuleError, match="not_waiting"):
        book.prioritise(called, None)


def test_nobody_starves_behind_a_stream_of_priority_customers() -> None:
    """Ticket 1 (no priority) joins first; then a priority customer joins every minute while
    the counter serves one every two minutes, so the queue only grows. Ticket 1 is passed
    only by those who joined within the largest head start (10 min) after it: at most 10."""
    book = QueueBook("advice", head_starts=HEAD_STARTS)
    join_at(book, 1, 0)
    called_before: list[Ticket] = []
    for minute in range(1, 200):
        join_at(book, minute + 1, minute, "mobility")
        if minute % 2 == 0:
            called, _ = book.call_next(T0 + timedelta(minutes=minute), None)
            book.apply(called)
            if called.id == "t1":
                break
            called_before.append(called)
    else:
        pytest.fail("ticket 1 was never called")
    assert len(called_before) <= 10
    # Each one that went first joined less than 10 minutes after it.
    assert all(t.created_at - T0 < timedelta(minutes=10) for t in called_before)


def test_a_move_keeps_the_priority_and_places_by_the_head_start() -> None:
    source = QueueBook("advice", head_starts=HEAD_STARTS)
    target = QueueBook("pickup", head_starts=HEAD_STARTS)
    for n, minute in ((1, 0), (2, 3), (3, 6)):
        join_at(target, n, minute)
    mover = join_at(source, 9, 8, "mobility")  # as if at -2 min: before everyone
    placed = target.admit(mover)
    target.apply(placed)
    assert placed.priority == "mobility" and numbers(target) == [9, 1, 2, 3]
    assert effective_join(placed, HEAD_STARTS) == T0 - timedelta(minutes=2)
    # A queue without that class takes the ticket without it, at its join-time place.
    plain = QueueBook("plain")
    join_at(plain, 1, 0)
    assert plain.admit(mover).priority is None
