"""The virtual-queue state machine for one queue (pure: no I/O, time passed in).

    waiting --call--> called --served--> served
       |                 |----no-show--> no_show --recall--> called
       |                 '----leave----> left   (customer, staff, or walked out)
       '------leave----> left

A staff transition (served, no-show, left by staff) can be undone for `UNDO_WINDOW_S`: the
ticket keeps the state it came from (`undo_state`) until then. A waiting ticket can move to
another queue, keeping its join time (`QueueBook.admit` on the target's book).

Order among waiting tickets is a sort key, so "I need a few more minutes" can move a ticket
back a bounded number of places without renumbering anyone.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from agent.core.events import (
    DomainEvent,
    QueueApproaching,
    QueueCalled,
    QueueCheckedIn,
    QueueJoined,
    QueueLeft,
    QueueMoved,
    QueueNoShow,
    QueuePrioritised,
    QueueRecalled,
    QueueServed,
    QueueUndone,
)
from agent.core.priority import APPOINTMENT, placed_key
from agent.core.tickets import (
    ACTIVE_STATES,
    LeftReason,
    QueueRuleError,
    Source,
    Ticket,
    TicketState,
)

__all__ = [
    "ACTIVE_STATES",
    "UNDO_WINDOW_S",
    "LeftReason",
    "QueueBook",
    "QueueRuleError",
    "Source",
    "Ticket",
    "TicketState",
    "entry_calls",
    "moved",
]

UNDO_WINDOW_S = 60.0  # contract 8.7: a staff transition can be undone for less than this


def _order_key(ticket: Ticket) -> tuple[float, int]:
    return ticket.sort_key, ticket.number


class QueueBook:
    """The active tickets of one queue, in order. Methods return (new ticket, events) and
    change nothing until the caller applies the new ticket with `apply`."""

    def __init__(
        self,
        queue: str,
        tickets: Iterable[Ticket] = (),
        head_starts: Mapping[str, float] | None = None,
    ) -> None:
        self.queue = queue
        # Priority class -> seconds of credit on the join time (agent.core.priority).
        self.head_starts: Mapping[str, float] = dict(head_starts or {})
        self._active: dict[str, Ticket] = {t.id: t for t in tickets if t.active}
        self._called: dict[str, Ticket] = {
            t.id: t for t in self._active.values() if t.state == TicketState.CALLED
        }
        # The waiting order and positions are derived, kept up to date cheaply for the common
        # case (a newcomer joins at the end) and rebuilt lazily otherwise: reading every
        # position of a long queue must not cost a sort per ticket.
        self._order: list[Ticket] | None = None
        self._positions: dict[str, int] = {}
        self._max_key = max((t.sort_key for t in self._active.values()), default=0.0)

    # --- reading ---------------------------------------------------------------------------

    def get(self, ticket_id: str) -> Ticket | None:
        return self._active.get(ticket_id)

    def waiting(self) -> list[Ticket]:
        if self._order is None:
            items = [t for t in self._active.values() if t.state == TicketState.WAITING]
            self._order = sorted(items, key=_order_key)
            self._positions = {t.id: index + 1 for index, t in enumerate(self._order)}
        return list(self._order)

    def called(self) -> list[Ticket]:
        return sorted(self._called.values(), key=lambda t: (t.called_at or t.created_at, t.number))

    def position(self, ticket_id: str) -> int | None:
        """1 for the next to be called; None if not waiting."""
        if self._order is None:
            self.waiting()
        return self._positions.get(ticket_id)

    def waiting_count(self) -> int:
        if self._order is None:
            self.waiting()
        return len(self._positions)

    def next_sort_key(self) -> float:
        """A key after everyone, reserved at once: joins decided before the previous one is
        applied still get distinct keys, in order."""
        self._max_key += 1024.0
        return self._max_key

    # --- deciding --------------------------------------------------------------------------

    def join(self, ticket: Ticket) -> tuple[Ticket, list[DomainEvent]]:
        event = QueueJoined(self.queue, ticket.id, ticket.number, phone=ticket.phone)
        return ticket, [event]

    def call_next(
        self, now: datetime, device: str | None, counter: str | None = None
    ) -> tuple[Ticket, list[DomainEvent]]:
        waiting = self.waiting()
        if not waiting:
            raise QueueRuleError("nobody_waiting")
        return self.call(waiting[0], now, device, counter)

    def call(
        self, ticket: Ticket, now: datetime, device: str | None, counter: str | None = None
    ) -> tuple[Ticket, list[DomainEvent]]:
        """Call this waiting ticket (call-next calls the first)."""
        self._require(ticket, TicketState.WAITING)
        called = replace(
            ticket, state=TicketState.CALLED, called_at=now, called_by=device, counter=counter
        )
        event = QueueCalled(
            self.queue, called.id, called.number, phone=called.phone, counter=counter
        )
        return called, [event]

    def served(
        self, ticket: Ticket, now: datetime, *, by_staff: bool = True
    ) -> tuple[Ticket, list[DomainEvent]]:
        self._require(ticket, TicketState.CALLED)
        called_at = ticket.called_at or now
        wait_s = round((called_at - ticket.created_at).total_seconds(), 3)
        service_s = round((now - called_at).total_seconds(), 3)
        done = replace(
            ticket,
            state=TicketState.SERVED,
            ended_at=now,
            phone=None,
            undo_state=ticket.state if by_staff else None,
        )
        return done, [QueueServed(self.queue, ticket.id, ticket.number, wait_s, service_s)]

    def no_show(
        self, ticket: Ticket, now: datetime, *, by_staff: bool = True
    ) -> tuple[Ticket, list[DomainEvent]]:
        """``by_staff`` False for the timer's automatic no-show, which is not undone (a
        customer who turns up after it is recalled)."""
        self._require(ticket, TicketState.CALLED)
        done = replace(
            ticket,
            state=TicketState.NO_SHOW,
            ended_at=now,
            phone=None,
            undo_state=ticket.state if by_staff else None,
        )
        return done, [QueueNoShow(self.queue, ticket.id, ticket.number)]

    def recall(self, ticket: Ticket, now: datetime) -> tuple[Ticket, list[DomainEvent]]:
        """Call again: a called customer who has not come yet, or a no-show who turned up."""
        if ticket.state not in (TicketState.CALLED, TicketState.NO_SHOW):
            raise QueueRuleError("not_called")
        again = replace(
            ticket,
            state=TicketState.CALLED,
            called_at=now if ticket.state == TicketState.NO_SHOW else ticket.called_at,
            ended_at=None,
            recalls=ticket.recalls + 1,
            undo_state=None,
        )
        event = QueueRecalled(
            self.queue, ticket.id, ticket.number, again.recalls, phone=ticket.phone
        )
        return again, [event]

    def leave(
        self, ticket: Ticket, now: datetime, reason: LeftReason = LeftReason.CUSTOMER
    ) -> tuple[Ticket, list[DomainEvent]]:
        if not ticket.active:
            raise QueueRuleError("not_active")
        done = replace(
            ticket,
            state=TicketState.LEFT,
            ended_at=now,
            phone=None,
            left_reason=reason,
            walkout_at=None,
            undo_state=ticket.state if reason == LeftReason.STAFF else None,
        )
        return done, [QueueLeft(self.queue, ticket.id, ticket.number, reason=reason.value)]

    def undo(self, ticket: Ticket, now: datetime) -> tuple[Ticket, list[DomainEvent]]:
        """Revert the ticket's last staff transition, made less than UNDO_WINDOW_S ago: the
        ticket is back in the state it came from, in its place (its sort key is kept)."""
        previous = ticket.undo_state
        if (
            previous is None
            or ticket.active
            or ticket.ended_at is None
            or (now - ticket.ended_at).total_seconds() >= UNDO_WINDOW_S
        ):
            raise QueueRuleError("nothing_to_undo")
        restored = replace(ticket, state=previous, ended_at=None, left_reason=None, undo_state=None)
        event = QueueUndone(
            self.queue, ticket.id, ticket.number, undone=ticket.state.value, state=previous.value
        )
        return restored, [event]

    def walk_out_due(self, now: datetime) -> list[Ticket]:
        """Live tickets whose holder's visit ended long enough ago and was not seen since."""
        return [
            t for t in self._active.values() if t.walkout_at is not None and t.walkout_at <= now
        ]

    def admit(self, ticket: Ticket) -> Ticket:
        """A waiting ticket moving here from another queue, placed among the waiting by its
        join time (a move keeps the join time, and its priority credit); numbered by `moved`
        once committed."""
        self._require(ticket, TicketState.WAITING)
        if ticket.queue == self.queue:
            raise QueueRuleError("same_queue")
        if ticket.priority is not None and not self.is_class(ticket.priority):
            ticket = replace(ticket, priority=None)  # a class this queue no longer has
        return replace(ticket, queue=self.queue, sort_key=self.place(ticket))

    def is_class(self, name: str) -> bool:
        """A priority class of this queue (not the appointments' head start)."""
        return name in self.head_starts and name != APPOINTMENT

    def place(self, ticket: Ticket) -> float:
        """The sort key for ``ticket`` by its effective join (agent.core.priority)."""
        key = placed_key(ticket, self.waiting(), self.head_starts)
        return self.next_sort_key() if key is None else key

    def prioritise(
        self, ticket: Ticket, priority: str | None, source: str = "staff"
    ) -> tuple[Ticket, list[DomainEvent]]:
        """Put a waiting ticket in a priority class (None: take it out) and in its place for
        it. Marking it with the class it has changes nothing and says nothing."""
        self._require(ticket, TicketState.WAITING)
        if priority is not None and not self.is_class(priority):
            raise QueueRuleError("unknown_priority")
        if priority == ticket.priority:
            return ticket, []
        marked = replace(ticket, priority=priority)
        marked = replace(marked, sort_key=self.place(marked))
        event = QueuePrioritised(
            self.queue, ticket.id, ticket.number, priority, ticket.priority, source
        )
        return marked, [event]

    def discard(self, ticket_id: str) -> None:
        """Forget a ticket that moved to another queue (after the move was committed)."""
        self._active.pop(ticket_id, None)
        self._called.pop(ticket_id, None)
        self._order = None

    def check_in(self, ticket: Ticket, now: datetime, via: str) -> tuple[Ticket, list[DomainEvent]]:
        """The holder is at the door. Announced once; later sightings only move the time."""
        if not ticket.active:
            raise QueueRuleError("not_active")
        event = QueueCheckedIn(self.queue, ticket.id, ticket.number, via)
        first = ticket.checked_in_at is None
        # Seen again: a walkout pending since their visit ended is off.
        return replace(ticket, checked_in_at=now, walkout_at=None), [event] if first else []

    def visit_ended(
        self, ticket: Ticket, now: datetime, grace_s: float
    ) -> tuple[Ticket, list[DomainEvent]]:
        """The holder's visit ended: the ticket walks out after ``grace_s`` unless they are
        seen again first (a pending walkout is not moved by a second departure)."""
        if not ticket.active:
            raise QueueRuleError("not_active")
        if ticket.walkout_at is not None:
            return ticket, []
        return replace(ticket, walkout_at=now + timedelta(seconds=grace_s)), []

    def snooze(self, ticket: Ticket, places: int) -> tuple[Ticket, list[DomainEvent]]:
        """Move a waiting ticket back up to ``places`` places, once per ticket."""
        self._require(ticket, TicketState.WAITING)
        if ticket.snoozed:
            raise QueueRuleError("already_snoozed")
        behind = [t for t in self.waiting() if t.sort_key > ticket.sort_key]
        if not behind:
            return replace(ticket, snoozed=True), []
        hop = behind[: max(1, places)]
        after = behind[len(hop)] if len(behind) > len(hop) else None
        new_key = (hop[-1].sort_key + after.sort_key) / 2 if after else hop[-1].sort_key + 1024.0
        return replace(ticket, sort_key=new_key, snoozed=True), []

    def approaching(
        self,
        now: datetime,
        position_limit: int,
        eta_within: Callable[[int], bool] | None = None,
        changed: Sequence[Ticket] = (),
    ) -> tuple[list[Ticket], list[DomainEvent]]:
        """Waiting tickets that are now "almost your turn" and were not told yet, flagged,
        with their `queue.approaching` events (contract 8.6).

        The order looked at is the one this book will have once ``changed`` (decided, not
        yet applied) are applied, so a transition and the announcements it causes commit
        together. A ticket qualifies at position <= ``position_limit`` or, with
        ``eta_within``, when that says yes for the number of people ahead of it; the
        estimate grows with the position, so the scan stops at the first that does not.
        """
        replaced = {t.id for t in changed}
        kept = (t for t in self.waiting() if t.id not in replaced)
        moved = sorted((t for t in changed if t.state == TicketState.WAITING), key=_order_key)
        flagged: list[Ticket] = []
        events: list[DomainEvent] = []
        for position, ticket in enumerate(heapq.merge(kept, moved, key=_order_key), start=1):
            near = position <= position_limit
            if not near and (eta_within is None or not eta_within(position - 1)):
                break
            if ticket.approached_at is None:
                flagged.append(replace(ticket, approached_at=now))
                events.append(
                    QueueApproaching(
                        self.queue, ticket.id, ticket.number, position, phone=ticket.phone
                    )
                )
        return flagged, events

    def apply(self, ticket: Ticket) -> None:
        """Make a decided ticket the current state (after it was committed)."""
        previous = self._active.pop(ticket.id, None)
        self._called.pop(ticket.id, None)
        appended = (
            previous is None
            and ticket.state == TicketState.WAITING
            and self._order is not None
            and (not self._order or ticket.sort_key > self._order[-1].sort_key)
        )
        if ticket.active:
            self._active[ticket.id] = ticket
            self._max_key = max(self._max_key, ticket.sort_key)
            if ticket.state == TicketState.CALLED:
                self._called[ticket.id] = ticket
        if appended and self._order is not None:
            self._order.append(ticket)  # a newcomer: last in line, nobody else moves
            self._positions[ticket.id] = len(self._order)
        else:
            self._order = None

    @staticmethod
    def _require(ticket: Ticket, state: TicketState) -> None:
        if ticket.state != state:
            raise QueueRuleError(f"not_{state.value}")


def moved(
    placed: Ticket, number: int, from_queue: str, from_number: int
) -> tuple[Ticket, list[DomainEvent]]:
    """The ticket `QueueBook.admit` placed, with its number in its new queue (numbers are per
    queue and day, so it takes the next one there), and its `queue.moved` event."""
    ticket = replace(placed, number=number)
    event = QueueMoved(
        ticket.queue, ticket.id, number, from_queue=from_queue, from_number=from_number
    )
    return ticket, [event]


def entry_calls(capacity: int, inside: int, called: int, waiting: int) -> int:
    """How many tickets an entry queue calls now (contract 8.7): while the store is below
    capacity, counting those already called and not yet served as inside (they are on their
    way in, or in and not yet marked served), so a call never takes the store above it."""
    return max(0, min(waiting, capacity - inside - called))
