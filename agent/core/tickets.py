"""A queue ticket and its states (pure): what `agent.core.queue` decides about."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime


class TicketState(enum.StrEnum):
    WAITING = "waiting"
    CALLED = "called"
    SERVED = "served"
    NO_SHOW = "no_show"
    LEFT = "left"


ACTIVE_STATES = (TicketState.WAITING, TicketState.CALLED)


class LeftReason(enum.StrEnum):
    """Why a ticket is `left` (contract 8.7)."""

    CUSTOMER = "customer"
    WALKED_OUT = "walked_out"
    STAFF = "staff"


class Source(enum.StrEnum):
    """How a ticket was made (contract 8.7): a phone at the window, or staff (a walk-in)."""

    WINDOW = "window"
    STAFF = "staff"


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
    counter: str | None = None  # the counter it was called to (contract 8.7)
    left_reason: LeftReason | None = None
    source: Source = Source.WINDOW
    # The state before the last staff transition (served, no-show, left by staff), kept so
    # that transition can be undone within UNDO_WINDOW_S of `ended_at`; None otherwise.
    undo_state: TicketState | None = None
    # The linked customer's visit ended: the ticket walks out at this time unless they are
    # seen again first (a check-in clears it).
    walkout_at: datetime | None = None
    # Its priority class (`[priorities.NAME]`), marked by staff or from the customer's tier.
    priority: str | None = None
    # A ticket made from a booked appointment checked in within its window: it is ordered by
    # `booked_at` (agent.core.priority). A late one has `booked_at` None: a walk-in's order.
    appointment_id: str | None = None
    booked_at: datetime | None = None

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
