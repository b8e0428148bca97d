"""The virtual-queue state machine for one queue (pure: no I/O, time passed in).

    waiting --call--> called --served--> served
       |                 |----no-show--> no_show --recall--> called
       |                 '----leave----> left
       '------leave----> left

Order among waiting tickets is a sort key, so "I need a few more minutes" can move a ticket
back a bounded number of places without renumbering anyone.
"""

from __future__ import annotations

import enum
import heapq
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from agent.core.events import (
    DomainEvent,
    QueueApproaching,
    QueueCalled,
    QueueCheckedIn,
    QueueJoined,
    QueueLeft,
    QueueNoShow,
    QueueRecalled,
    QueueServed,
)


class TicketState(enum.StrEnum):
    WAITING = "waiting"
    CALLED = "called"
    SERVED = "served"
    NO_SHOW = "no_show"
    LEFT = "left"


ACTIVE_STATES = (TicketState.WAITING, TicketState.CALLED)


class QueueRuleError(Exception):
    """A transition the state machine does not allow. ``code`` is stable for API clients and
    is all it says: the words a person reads are chosen by the web layer, in their language."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True, slots=True)
class Ticket:
    id: str
    queue: str
    number: int
    state: TicketState
    sort_key: float
    created_at: datetime
    secret_hash: str
    name: str = ""
    party_size: int = 1
    locale: str = "en"
    phone: str | None = None
    called_at: datetime | None = None
    ended_at: datetime | None = None
    snoozed: bool = False
    recalls: int = 0
    called_by: str | None = None
    predicted_low_s: float | None = None
    predicted_high_s: float | None = None
    # The holder was seen at the door (ticket QR shown to the camera, or recognised).
    checked_in_at: datetime | None = None
    # Set only when the customer joined with their loyalty pass (consented to recognition);
    # cleared with the name when the ticket is anonymised, and on revoke or erase.
    customer_id: str | None = None
    # When "almost your turn" was announced (contract 8.6): at most once per ticket.
    approached_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    def grace_started_at(self) -> datetime | None:
        """Lateness counts from the call, or from a check-in after it: a customer seen at the
        door is on their way to the counter, so their grace period starts again."""
        if self.called_at is None:
            return None
        if self.checked_in_at is not None and self.checked_in_at > self.called_at:
            return self.checked_in_at
        return self.called_at


def _order_key(ticket: Ticket) -> tuple[float, int]:
    return ticket.sort_key, ticket.number


class QueueBook:
    """The active tickets of one queue, in order. Methods return (new ticket, events) and
    change nothing until the caller applies the new ticket with `apply`."""

    def __init__(self, queue: str, tickets: Iterable[Ticket] = ()) -> None:
        self.queue = queue
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

    def call_next(self, now: datetime, device: str | None) -> tuple[Ticket, list[DomainEvent]]:
        waiting = self.waiting()
        if not waiting:
            raise QueueRuleError("nobody_waiting")
        ticket = replace(waiting[0], state=TicketState.CALLED, called_at=now, called_by=device)
        return ticket, [QueueCalled(self.queue, ticket.id, ticket.number, phone=ticket.phone)]

    def served(self, ticket: Ticket, now: datetime) -> tuple[Ticket, list[DomainEvent]]:
        self._require(ticket, TicketState.CALLED)
        called_at = ticket.called_at or now
        wait_s = round((called_at - ticket.created_at).total_seconds(), 3)
        service_s = round((now - called_at).total_seconds(), 3)
        done = replace(ticket, state=TicketState.SERVED, ended_at=now, phone=None)
        return done, [QueueServed(self.queue, ticket.id, ticket.number, wait_s, service_s)]

    def no_show(self, ticket: Ticket, now: datetime) -> tuple[Ticket, list[DomainEvent]]:
        self._require(ticket, TicketState.CALLED)
        done = replace(ticket, state=TicketState.NO_SHOW, ended_at=now, phone=None)
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
        )
        event = QueueRecalled(
            self.queue, ticket.id, ticket.number, again.recalls, phone=ticket.phone
        )
        return again, [event]

    def leave(self, ticket: Ticket, now: datetime) -> tuple[Ticket, list[DomainEvent]]:
        if not ticket.active:
            raise QueueRuleError("not_active")
        done = replace(ticket, state=TicketState.LEFT, ended_at=now, phone=None)
        return done, [QueueLeft(self.queue, ticket.id, ticket.number)]

    def check_in(self, ticket: Ticket, now: datetime, via: str) -> tuple[Ticket, list[DomainEvent]]:
        """The holder is at the door. Announced once; later sightings only move the time."""
        if not ticket.active:
            raise QueueRuleError("not_active")
        event = QueueCheckedIn(self.queue, ticket.id, ticket.number, via)
        first = ticket.checked_in_at is None
        return replace(ticket, checked_in_at=now), [event] if first else []

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
