"""What the queue looks like to a customer, to staff and to anyone passing by: view models
that nothing changes once made, worded and serialised by the web layer."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from agent.core.estimate import WaitRange
from agent.core.ports import Clock
from agent.core.queue import UNDO_WINDOW_S, LeftReason, Source, Ticket, TicketState
from agent.services.queue.state import QueueRegistry, QueueState


# The two ticket views are not frozen, unlike the other views: nothing changes one once made,
# but a frozen dataclass's __init__ sets each field through object.__setattr__, 4.7 us for a
# view's 16 fields here against 0.6 us, and a call with 500 phones and a tablet watching makes
# a thousand of them (issue 17's fan-out; benchmarks/RESULTS.md, session 8).
@dataclass(slots=True)
class TicketView:
    """The contract's Ticket (plus name, party size, whether it was snoozed, recalls)."""

    id: str
    queue: str
    number: int
    state: TicketState
    position: int  # 1 for the next to be called; 0 unless waiting
    eta: WaitRange
    created_at: datetime
    called_at: datetime | None
    name: str
    party_size: int
    snoozed: bool
    recalls: int  # a recall changes the view, so phones alert again
    # Contract 8.6 "almost your turn": waiting, and the queue's notify rule was reached.
    approaching: bool
    counter: str | None  # contract 8.7: the counter it was called to (null until called)
    left_reason: LeftReason | None  # contract 8.7: null unless left
    source: Source  # contract 8.7: "staff" for a walk-in, "window" otherwise


@dataclass(slots=True)
class StaffTicketView(TicketView):
    """A ticket as a tablet shows it."""

    waited_s: int
    late: bool  # called, and past the queue's grace period
    at_door: bool  # the holder was seen at the door
    # Seconds left to undo its last staff transition (served, no-show, left); 0: none.
    undo_s: int
    priority: str | None  # its priority class (issue 14), None without one
    # Made from a booked appointment checked in on time: the time it was booked for.
    booked_at: datetime | None


@dataclass(frozen=True, slots=True)
class EstimateAccuracy:
    """How far the wait estimates given at join were from the waits that followed."""

    tickets: int
    mean_abs_error_s: float | None
    underestimate_share: float | None


@dataclass(frozen=True, slots=True)
class QueueChanged:
    """On the staff topic: the queue's staff view changed (its `version`-th change). The
    stream sends `QueueService.latest_queue_view` then, and skips changes it already sent."""

    queue: str
    version: int


@dataclass(frozen=True, slots=True)
class BookedView:
    """A booking still expected today (issue 14), as the tablet lists it under its queue."""

    id: str
    at: datetime
    name: str
    party_size: int


@dataclass(frozen=True, slots=True)
class StaffQueue:
    queue: str
    label: str
    waiting: tuple[StaffTicketView, ...]
    called: tuple[StaffTicketView, ...]
    accuracy: EstimateAccuracy
    booked: tuple[BookedView, ...] = ()  # today's bookings not checked in yet, by time


@dataclass(frozen=True, slots=True)
class QueueSummary:
    """What anyone may see: label, people waiting, the wait range for a newcomer."""

    queue: str
    label: str
    waiting: int
    eta: WaitRange
    open: bool
    full: bool


def _approaching(ticket: Ticket) -> bool:
    return ticket.state == TicketState.WAITING and ticket.approached_at is not None


def _undo_left_s(ticket: Ticket, now: datetime) -> int:
    if ticket.undo_state is None or ticket.ended_at is None:
        return 0
    return max(0, int(UNDO_WINDOW_S - (now - ticket.ended_at).total_seconds()))


class QueueViews:
    def __init__(self, registry: QueueRegistry, clock: Clock) -> None:
        self._registry = registry
        self._clock = clock
        # Today's bookings of a queue (set by the appointments' desk, built after the views).
        self.booked: Callable[[str], tuple[BookedView, ...]] = lambda _queue: ()

    def view(self, ticket: Ticket, place: tuple[int, WaitRange] | None = None) -> TicketView:
        return TicketView(*self._customer_fields(ticket, place))

    def staff_view(
        self, ticket: Ticket, place: tuple[int, WaitRange] | None = None
    ) -> StaffTicketView:
        return self._staff_view(
            ticket, place, self._registry.get(ticket.queue).config.grace_s, self._clock.now()
        )

    def _customer_fields(
        self, ticket: Ticket, place: tuple[int, WaitRange] | None
    ) -> tuple[Any, ...]:
        """`TicketView`'s fields in their order, which a `StaffTicketView` begins with too:
        both are made positionally from this, in one step each (a tablet's view of a
        500-ticket line makes 500 staff views per change: issue 17's fan-out)."""
        position, eta = place if place is not None else self._place(ticket)
        return (
            ticket.id,
            ticket.queue,
            ticket.number,
            ticket.state,
            position,
            eta,
            ticket.created_at,
            ticket.called_at,
            ticket.name,
            ticket.party_size,
            ticket.snoozed,
            ticket.recalls,
            _approaching(ticket),
            ticket.counter,
            ticket.left_reason,
            ticket.source,
        )

    def _staff_view(
        self, ticket: Ticket, place: tuple[int, WaitRange] | None, grace_s: float, now: datetime
    ) -> StaffTicketView:
        grace_from = ticket.grace_started_at()
        late = bool(
            ticket.state == TicketState.CALLED
            and grace_from
            and (now - grace_from).total_seconds() > grace_s
        )
        # The staff fields, in their order (after the customer's, which a keyword cannot
        # follow): waited_s, late, at_door, undo_s, priority, booked_at.
        staff: tuple[Any, ...] = (
            int((now - ticket.created_at).total_seconds()),
            late,
            ticket.checked_in_at is not None,
            _undo_left_s(ticket, now),
            ticket.priority,
            ticket.booked_at,
        )
        return StaffTicketView(*self._customer_fields(ticket, place), *staff)

    def queue_view(
        self, queue: str, etas: Callable[[QueueState, int], list[WaitRange]] | None = None
    ) -> StaffQueue:
        """``etas(q, n)``: the waits of the first n in line (default: worked out now)."""
        q = self._registry.get(queue)
        # The whole line's estimates at once: what is shared (the counters' elapsed times, the
        # bookings due) is worked out once, not once per ticket (benchmarks/call_latency.py).
        waiting = q.book.waiting()
        waits = (etas or self._registry.estimates)(q, len(waiting))
        grace_s, now = q.config.grace_s, self._clock.now()
        return StaffQueue(
            queue=queue,
            label=q.config.label,
            waiting=tuple(
                self._staff_view(t, (n, eta), grace_s, now)
                for n, (t, eta) in enumerate(zip(waiting, waits, strict=True), start=1)
            ),
            called=tuple(self._staff_view(t, None, grace_s, now) for t in q.book.called()),
            accuracy=EstimateAccuracy(
                tickets=q.accuracy.count,
                mean_abs_error_s=q.accuracy.mean_absolute_error_s(),
                underestimate_share=q.accuracy.underestimate_share(),
            ),
            booked=self.booked(queue),
        )

    def summary(self, queue: str) -> QueueSummary:
        q = self._registry.get(queue)
        waiting = q.book.waiting_count()
        return QueueSummary(
            queue=queue,
            label=q.config.label,
            waiting=waiting,
            eta=self._registry.estimate(q, waiting),
            open=self._registry.is_open(),
            full=waiting >= q.config.max_waiting,
        )

    def _place(self, ticket: Ticket) -> tuple[int, WaitRange]:
        """Position and wait of a waiting ticket; (0, no wait) for any other."""
        q = self._registry.queues.get(ticket.queue)
        if q is None or ticket.state != TicketState.WAITING:
            return 0, WaitRange(0, 0)
        position = q.book.position(ticket.id) or 0
        return position, self._registry.estimate(q, max(0, position - 1))


# --- the "now serving" board (contract 8.6) ---------------------------------------------------

BOARD_SIZE = 5  # numbers shown per queue: the one just called and the few before it


@dataclass(frozen=True, slots=True)
class ServingView:
    number: int
    counter: str | None  # where to go, when the queue has counters (contract 8.7)
    called_at: datetime


@dataclass(frozen=True, slots=True)
class BoardQueue:
    queue: str
    label: str  # for the page; the board's JSON carries the queue id only (contract 8.6)
    serving: tuple[ServingView, ...]  # most recent first


@dataclass(frozen=True, slots=True)
class BoardView:
    queues: tuple[BoardQueue, ...]


def board_queue(
    queue: str,
    label: str,
    called: Iterable[Ticket],
    local_day: Callable[[datetime], str],
    now: datetime,
) -> BoardQueue:
    """The last numbers called in a queue today (store time), most recent first. Numbers
    restart each local day, so yesterday's calls would be read as today's."""
    today = local_day(now)
    recent = sorted(
        (t for t in called if t.called_at is not None and local_day(t.called_at) == today),
        key=lambda t: t.called_at or now,
        reverse=True,
    )
    serving = tuple(
        ServingView(
            number=t.number,
            # Read from the ticket when it has one: counters come with the staff actions
            # (contract 8.7); a ticket without the field has no counter to show.
            counter=getattr(t, "counter", None),
            called_at=t.called_at or now,
        )
        for t in recent[:BOARD_SIZE]
    )
    return BoardQueue(queue=queue, label=label, serving=serving)
