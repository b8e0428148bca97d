"""The queue state machine, pure: every transition and every refusal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from agent.core.queue import QueueBook, QueueRuleError, Ticket, TicketState

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def ticket(n: int, book: QueueBook, phone: str | None = None) -> Ticket:
    return Ticket(
        id=f"t{n}", queue=book.queue, number=n, state=TicketState.WAITING,
        sort_key=book.next_sort_key(), created_at=T0 + timedelta(minutes=n), secret_hash="h",
        phone=phone,
    )  # fmt: skip


def book_with(count: int) -> QueueBook:
    book = QueueBook("advice")
    for n in range(1, count + 1):
        new, events = book.join(ticket(n, book))
        book.apply(new)
        assert events[0].type == "queue.joined"
    return book


def test_join_orders_by_arrival_and_positions_count_from_one() -> None:
    book = book_with(3)
    assert [t.number for t in book.waiting()] == [1, 2, 3]
    assert [book.position(f"t{n}") for n in (1, 2, 3)] == [1, 2, 3]


def test_call_serve_flow_with_durations() -> None:
    book = book_with(2)
    called, events = book.call_next(T0 + timedelta(minutes=10), "tablet-1")
    assert called.id == "t1" and called.state == TicketState.CALLED
    assert events[0].data() == {"queue": "advice", "ticket_id": "t1", "number": 1}
    book.apply(called)
    assert book.position("t1") is None and book.position("t2") == 1
    served, events = book.served(called, T0 + timedelta(minutes=14))
    assert served.state == TicketState.SERVED
    assert events[0].data() == {
        "queue": "advice",
        "ticket_id": "t1",
        "number": 1,
        "wait_s": 540.0,
        "service_s": 240.0,
    }
    book.apply(served)
    assert book.get("t1") is None


def test_no_show_and_recall_bring_a_late_customer_back() -> None:
    book = book_with(1)
    called, _ = book.call_next(T0, None)
    book.apply(called)
    gone, events = book.no_show(called, T0 + timedelta(minutes=5))
    assert events[0].type == "queue.no_show"
    book.apply(gone)
    again, events = book.recall(gone, T0 + timedelta(minutes=7))
    assert again.state == TicketState.CALLED and again.recalls == 1
    assert again.called_at == T0 + timedelta(minutes=7)
    assert events[0].type == "queue.recalled" and events[0].data()["recalls"] == 1


def test_leave_from_waiting_and_called() -> None:
    book = book_with(2)
    left, events = book.leave(book.waiting()[1], T0)
    assert left.state == TicketState.LEFT and events[0].type == "queue.left"
    called, _ = book.call_next(T0, None)
    book.apply(called)
    left, _ = book.leave(called, T0)
    assert left.state == TicketState.LEFT


@pytest.mark.parametrize(
    ("action", "code"),
    [
        (lambda b, t: b.served(t, T0), "not_called"),
        (lambda b, t: b.no_show(t, T0), "not_called"),
        (lambda b, t: b.recall(t, T0), "not_called"),
    ],
)
def test_refused_transitions_from_waiting(action, code) -> None:  # type: ignore[no-untyped-def]
    book = book_with(1)
    with pytest.raises(QueueRuleError) as info:
        action(book, book.waiting()[0])
    assert info.value.code == code


def test_call_next_on_an_empty_queue_is_refused() -> None:
    with pytest.raises(QueueRuleError) as info:
        QueueBook("advice").call_next(T0, None)
    assert info.value.code == "nobody_waiting"


def test_ended_tickets_cannot_leave() -> None:
    book = book_with(1)
    left, _ = book.leave(book.waiting()[0], T0)
    with pytest.raises(QueueRuleError):
        book.leave(left, T0)


def test_phone_travels_in_joined_and_called_only_and_is_dropped_when_the_ticket_ends() -> None:
    book = QueueBook("advice")
    new, events = book.join(ticket(1, book, phone="+33612345678"))
    assert events[0].data()["phone"] == "+33612345678"
    book.apply(new)
    called, events = book.call_next(T0, None)
    assert events[0].data()["phone"] == "+33612345678"
    book.apply(called)
    served, events = book.served(called, T0)
    assert served.phone is None and "phone" not in events[0].data()


def test_snooze_moves_back_a_bounded_number_of_places_once() -> None:
    book = book_with(6)
    moved, events = book.snooze(book.get("t1"), places=3)  # type: ignore[arg-type]
    assert events == []
    book.apply(moved)
    assert [t.number for t in book.waiting()] == [2, 3, 4, 1, 5, 6]
    with pytest.raises(QueueRuleError) as info:
        book.snooze(moved, places=3)
    assert info.value.code == "already_snoozed"


def test_snooze_near_the_end_goes_last() -> None:
    book = book_with(3)
    moved, _ = book.snooze(book.get("t2"), places=5)  # type: ignore[arg-type]
    book.apply(moved)
    assert [t.number for t in book.waiting()] == [1, 3, 2]
