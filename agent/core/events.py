"""The one domain-event vocabulary: frozen, slotted dataclasses.

Each event knows its contract type name (contract §4) and the `data` object it carries.
Raw hardware types never appear here; adapters translate before anything reaches the core.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import ClassVar

JsonValue = str | int | float | bool | None | list["JsonValue"] | dict[str, "JsonValue"]


@dataclass(frozen=True, slots=True)
class DomainEvent:
    """Base of every event that goes up to the central service through the outbox."""

    type: ClassVar[str] = ""

    def data(self) -> dict[str, JsonValue]:
        return asdict(self)


# --- virtual queue -------------------------------------------------------------------------


def _without_none(data: dict[str, JsonValue]) -> dict[str, JsonValue]:
    return {key: value for key, value in data.items() if value is not None}


@dataclass(frozen=True, slots=True)
class QueueJoined(DomainEvent):
    type: ClassVar[str] = "queue.joined"
    queue: str
    ticket_id: str
    number: int
    # Only with the customer's SMS consent: the central side sends the SMS (issue: queue).
    phone: str | None = None

    def data(self) -> dict[str, JsonValue]:
        return _without_none(asdict(self))


@dataclass(frozen=True, slots=True)
class QueueCalled(DomainEvent):
    type: ClassVar[str] = "queue.called"
    queue: str
    ticket_id: str
    number: int
    phone: str | None = None
    # Extension (contract 8.7): the counter the customer is called to, when the call named one.
    counter: str | None = None

    def data(self) -> dict[str, JsonValue]:
        return _without_none(asdict(self))


@dataclass(frozen=True, slots=True)
class QueueApproaching(DomainEvent):
    """Contract 8.6: a waiting ticket first reached the queue's `notify_position` (or its
    `notify_eta_s`); once per ticket. `phone` only with SMS consent, as on `queue.joined`."""

    type: ClassVar[str] = "queue.approaching"
    queue: str
    ticket_id: str
    number: int
    position: int
    phone: str | None = None

    def data(self) -> dict[str, JsonValue]:
        return _without_none(asdict(self))


@dataclass(frozen=True, slots=True)
class QueueRecalled(DomainEvent):
    """Contract 8.6: staff called the ticket again; `recalls` counts from 1."""

    type: ClassVar[str] = "queue.recalled"
    queue: str
    ticket_id: str
    number: int
    recalls: int
    phone: str | None = None

    def data(self) -> dict[str, JsonValue]:
        return _without_none(asdict(self))


@dataclass(frozen=True, slots=True)
class QueueServed(DomainEvent):
    type: ClassVar[str] = "queue.served"
    queue: str
    ticket_id: str
    number: int
    wait_s: float
    service_s: float


@dataclass(frozen=True, slots=True)
class QueueNoShow(DomainEvent):
    type: ClassVar[str] = "queue.no_show"
    queue: str
    ticket_id: str
    number: int


@dataclass(frozen=True, slots=True)
class QueueCheckedIn(DomainEvent):
    """Extension: the ticket holder is at the door (ticket QR at the camera, or recognised)."""

    type: ClassVar[str] = "queue.checked_in"
    queue: str
    ticket_id: str
    number: int
    via: str  # "ticket_qr" | "ble" | "nfc" | "qr" | "app"


@dataclass(frozen=True, slots=True)
class QueueLeft(DomainEvent):
    type: ClassVar[str] = "queue.left"
    queue: str
    ticket_id: str
    number: int
    # Extension (contract 8.7): the ticket's `left_reason`: customer, staff or walked_out.
    reason: str | None = None

    def data(self) -> dict[str, JsonValue]:
        return _without_none(asdict(self))


@dataclass(frozen=True, slots=True)
class QueueMoved(DomainEvent):
    """Extension (contract 8.7): staff moved a waiting ticket to another queue. It keeps its
    join time and takes a new number in its new queue (`queue`, `number`)."""

    type: ClassVar[str] = "queue.moved"
    queue: str
    ticket_id: str
    number: int
    from_queue: str
    from_number: int


@dataclass(frozen=True, slots=True)
class QueuePrioritised(DomainEvent):
    """Extension (issue 14): a waiting ticket was put in a priority class (`priority`, null
    when taken out; `previous` the class it had), by staff or at join from the customer's
    tier (`source`: "staff" or "tier"). Its new place follows from the class's credit."""

    type: ClassVar[str] = "queue.prioritised"
    queue: str
    ticket_id: str
    number: int
    priority: str | None
    previous: str | None
    source: str


@dataclass(frozen=True, slots=True)
class AppointmentCheckedIn(DomainEvent):
    """Extension (issue 14): a booked customer checked in and has a ticket (`ticket_id`,
    `number` in `queue`). `timing` is `on_time` (ordered by `booked_at`) or `late` (ordered
    as a walk-in from now); `via` as for `queue.checked_in` (`ticket_qr`, `ble`, ...), or
    `staff` for a check-in by hand on the tablet."""

    type: ClassVar[str] = "appointment.checked_in"
    appointment_id: str
    queue: str
    ticket_id: str
    number: int
    booked_at: str
    timing: str
    via: str


@dataclass(frozen=True, slots=True)
class AppointmentNoShow(DomainEvent):
    """Extension (issue 14): a booking not checked in `no_show_after_s` after its time."""

    type: ClassVar[str] = "appointment.no_show"
    appointment_id: str
    queue: str
    booked_at: str


@dataclass(frozen=True, slots=True)
class QueueUndone(DomainEvent):
    """Extension (contract 8.7): staff undid the ticket's last transition within 60 s.
    `undone` is the state it had (served, no_show, left); `state` the one it is back in. The
    earlier event stays in the record: this one corrects it."""

    type: ClassVar[str] = "queue.undone"
    queue: str
    ticket_id: str
    number: int
    undone: str
    state: str


# --- recognition and presence ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VisitArrived(DomainEvent):
    type: ClassVar[str] = "visit.arrived"
    visit_id: str
    customer_id: str
    via: str  # "ble" | "nfc" | "qr" | "app"


@dataclass(frozen=True, slots=True)
class VisitLeft(DomainEvent):
    type: ClassVar[str] = "visit.left"
    visit_id: str
    customer_id: str
    dwell_s: float


# --- footfall ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FootfallCounted(DomainEvent):
    type: ClassVar[str] = "footfall.counted"
    door: str
    in_: int
    out: int
    from_: str
    to: str

    def data(self) -> dict[str, JsonValue]:
        # `in` and `from` are Python keywords; the contract names win on the wire.
        return {
            "door": self.door,
            "in": self.in_,
            "out": self.out,
            "from": self.from_,
            "to": self.to,
        }


# --- privacy and the agent itself -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PrivacyErased(DomainEvent):
    type: ClassVar[str] = "privacy.erased"
    customer_id: str
    records_deleted: int


@dataclass(frozen=True, slots=True)
class OutboxDropped(DomainEvent):
    """Extension: the offline retention bound dropped events; explains the `seq` gap."""

    type: ClassVar[str] = "outbox.dropped"
    from_seq: int
    to_seq: int
    count: int
    reason: str  # "max_events" | "max_age" | "not_kept" (asked for again, no longer kept)


@dataclass(frozen=True, slots=True)
class AgentStarted(DomainEvent):
    """Extension: the agent process started (lets the central side see restarts)."""

    type: ClassVar[str] = "agent.started"
    version: str


@dataclass(frozen=True, slots=True)
class CustomerNote(DomainEvent):
    """Extension: a note staff added to a consenting customer's profile (goes to central)."""

    type: ClassVar[str] = "customer.note"
    customer_id: str
    note: str
    by: str
