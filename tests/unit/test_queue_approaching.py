"""The "almost your turn" rule decided in the pure core (contract 8.6): once per ticket, on the order
the book will have after the change being decided."""

from __future__ import annotations

from datetime import timedelta

from agent.core.events import QueueApproaching
from agent.core.queue import QueueBook, Ticket
from tests.unit.test_queue_core import T0, book_with, ticket

NOW = T0 + timedelta(minutes=30)


def commit(book: QueueBook, change: Ticket, limit: int = 2) -> list[QueueApproaching]:
    """Decide what ``change`` makes "almost your turn", then apply both, as the service does."""
    flagged, events = book.approaching(NOW, limit, changed=(change,))
    book.apply(next((t for t in flagged if t.id == change.id), change))
    for t in flagged:
        book.apply(t)
    assert all(isinstance(e, QueueApproaching) for e in events)
    return [e for e in events if isinstance(e, QueueApproaching)]


def settle_joins(book: QueueBook, limit: int = 2) -> list[str]:
    flagged, _ = book.approaching(NOW, limit)
    for t in flagged:
        book.apply(t)
    return [t.id for t in flagged]


def test_the_first_two_are_told_at_once_and_each_call_tells_the_next_one_once() -> None:
    book = book_with(5)
    assert settle_joins(book) == ["t1", "t2"]
    assert settle_joins(book) == []  # nobody twice
    called, _ = book.call_next(NOW, "tablet")
    told = commit(book, called)
    assert [(e.ticket_id, e.position) for e in told] == [("t3", 2)]
    assert told[0].data() == {"queue": "advice", "ticket_id": "t3", "number": 3, "position": 2}
    called, _ = book.call_next(NOW, "tablet")
    assert [(e.ticket_id, e.position) for e in commit(book, called)] == [("t4", 2)]
    flagged = book.get("t4")
    assert flagged is not None and flagged.approached_at == NOW


def test_someone_ahead_leaving_moves_the_next_one_into_reach() -> None:
    book = book_with(4)
    settle_joins(book)
    ahead = book.get("t1")
    assert ahead is not None
    gone, _ = book.leave(ahead, NOW)
    assert [e.ticket_id for e in commit(book, gone)] == ["t3"]


def test_a_snooze_lets_others_move_up_and_does_not_tell_the_snoozer_again() -> None:
    book = book_with(6)
    settle_joins(book)  # t1, t2
    first = book.get("t1")
    assert first is not None
    snoozed, _ = book.snooze(first, 3)  # t1 goes behind t4
    told = commit(book, snoozed)
    assert [(e.ticket_id, e.position) for e in told] == [("t3", 2)]
    assert [t.id for t in book.waiting()][:4] == ["t2", "t3", "t4", "t1"]
    # t1 comes back within reach later: it was told already, so it is not told again.
    for _ in range(2):
        called, _ = book.call_next(NOW, "tablet")
        told = commit(book, called)
        assert "t1" not in [e.ticket_id for e in told]


def test_the_phone_goes_only_with_sms_consent() -> None:
    book = QueueBook("advice")
    for n, phone in ((1, None), (2, "+33612345678")):
        new, _ = book.join(ticket(n, book, phone=phone))
        book.apply(new)
    _, events = book.approaching(NOW, 2)
    assert [e.data().get("phone") for e in events] == [None, "+33612345678"]
    assert "phone" not in events[0].data()


def test_the_estimate_rule_reaches_further_and_the_scan_stops_at_the_first_miss() -> None:
    book = book_with(8)
    asked: list[int] = []

    def within(ahead: int) -> bool:
        asked.append(ahead)
        return ahead < 4  # an estimate that is short enough for the first four

    flagged, events = book.approaching(NOW, 1, within)
    assert [t.id for t in flagged] == ["t1", "t2", "t3", "t4"]
    assert [e.data()["position"] for e in events] == [1, 2, 3, 4]  # type: ignore[index]
    assert asked == [1, 2, 3, 4]  # position 1 needs no estimate; stops at position 5


def test_a_zero_limit_and_no_estimate_rule_tell_nobody() -> None:
    book = book_with(3)
    assert book.approaching(NOW, 0) == ([], [])


def test_recall_is_its_own_event_with_the_count() -> None:
    book = book_with(1)
    called, _ = book.call_next(NOW, "tablet")
    book.apply(called)
    again, events = book.recall(called, NOW)
    book.apply(again)
    assert [e.data() for e in events] == [
        {"queue": "advice", "ticket_id": "t1", "number": 1, "recalls": 1}
    ]
    _, events = book.recall(again, NOW)
    assert events[0].type == "queue.recalled" and events[0].data()["recalls"] == 2
