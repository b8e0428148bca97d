"""The JSON bodies the agent answers with, as pydantic models mirroring the services' view
models: FastAPI serialises routes' answers through them, so /openapi.json describes the real
bodies, and the event streams encode the same views the same way (`to_json`). Also the base
of the bodies it accepts (`RequestBody`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, PlainSerializer, StringConstraints

from agent.core.clock import rfc3339
from agent.core.queue import LeftReason, Source, TicketState
from agent.services.footfall import FootfallDay, OccupancyView
from agent.services.printing import PrinterStatus, PrintOutcome
from agent.services.queue import (
    EstimateAccuracy,
    QueueSummary,
    StaffQueue,
    StaffTicketView,
    TicketView,
)
from agent.services.queue.views import BoardQueue, BoardView, ServingView
from agent.web.view_encoding import fast_view_json

# The one timestamp format on the wire (UTC, milliseconds, `Z`), not pydantic's own.
Timestamp = Annotated[datetime, PlainSerializer(rfc3339, return_type=str)]


class RequestBody(BaseModel):
    """Base of every JSON body the agent accepts: unknown fields are refused, and values are
    strict: `"3"` or `true` is not a number, `1` is not a boolean (pydantic's default would
    convert them), so a client learns at once that it sent the wrong type (422)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, strict=True)


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True, frozen=True)


class Eta(_Out):
    low_s: int
    high_s: int


class TicketOut(_Out):
    """Contract §3 `Ticket`, plus name, party_size, snoozed and (§8.4) recalls."""

    id: str
    queue: str
    number: int
    state: TicketState
    position: int
    eta: Eta
    created_at: Timestamp
    called_at: Timestamp | None
    name: str
    party_size: int
    snoozed: bool
    recalls: int
    approaching: bool  # contract 8.6: "almost your turn" (waiting tickets only)
    counter: str | None  # contract 8.7: the counter it was called to; null until called
    left_reason: LeftReason | None  # contract 8.7: customer, walked_out, staff; null unless left
    source: Source  # contract 8.7: "staff" (a walk-in) or "window"


class StaffTicketOut(TicketOut):
    waited_s: int
    late: bool
    at_door: bool
    undo_s: int  # seconds left to undo its last staff transition; 0 when there is none
    priority: str | None  # issue 14: its priority class (`[priorities.NAME]`), or null
    booked_at: Timestamp | None  # issue 14: the booked time of an appointment checked in on time


Counter = Annotated[str, StringConstraints(min_length=1, max_length=16)]


class CallBody(RequestBody):
    """Contract 8.7: the optional body of call-next and call: the caller's counter."""

    counter: Counter | None = None


class PriorityBody(RequestBody):
    """Issue 14: the priority class to put a waiting ticket in (`[priorities.NAME]`)."""

    priority: Annotated[str, StringConstraints(min_length=1, max_length=32)]


class MoveBody(RequestBody):
    """Contract 8.7: the queue a waiting ticket moves to."""

    queue: Annotated[str, StringConstraints(min_length=1, max_length=64)]


class AccuracyOut(_Out):
    tickets: int
    mean_abs_error_s: float | None
    underestimate_share: float | None


class BookedOut(_Out):
    """Issue 14: a booking of today not checked in yet."""

    id: str
    at: Timestamp
    name: str
    party_size: int


class StaffQueueOut(_Out):
    """Contract §3 `GET /api/v1/queues/{queue}`, plus label, the estimates' accuracy and
    (issue 14) today's bookings still expected, by time."""

    queue: str
    label: str
    waiting: list[StaffTicketOut]
    called: list[StaffTicketOut]
    accuracy: AccuracyOut
    booked: list[BookedOut]


class SummaryOut(_Out):
    """Extension: what the join page and the window screen show (no personal data)."""

    queue: str
    label: str
    waiting: int
    eta: Eta
    open: bool
    full: bool
    store_full: bool


class TicketCreated(_Out):
    ticket: TicketOut
    secret: str


class BookingCheckedIn(_Out):
    """Issue 14: a booking checked in by hand. As for a walk-in, the tablet receives the
    ticket's secret; `link` opens the ticket page on a phone (the tablet shows it as a QR
    code, `qr_svg`, a standalone SVG document)."""

    ticket: StaffTicketOut
    secret: str
    link: str
    qr_svg: str


class PairedOut(_Out):
    token: str


class AlertTaken(_Out):
    alert_id: str
    taken_by: str


class NoteAdded(_Out):
    customer_id: str
    note: str


class ServingOut(_Out):
    number: int
    counter: str | None
    called_at: Timestamp


class BoardQueueOut(_Out):
    queue: str
    serving: list[ServingOut]  # most recent first


class BoardOut(_Out):
    """Contract 8.6 `GET /api/v1/board`: the last numbers called in each queue."""

    queues: list[BoardQueueOut]


def summary_out(summary: QueueSummary, *, store_full: bool) -> SummaryOut:
    return SummaryOut(
        queue=summary.queue,
        label=summary.label,
        waiting=summary.waiting,
        eta=Eta.model_validate(summary.eta),
        open=summary.open,
        full=summary.full,
        store_full=store_full,
    )


class OccupancyOut(_Out):
    """The store's occupancy (the staff stream's `occupancy` frame; contract §4's retained
    message has the same fields)."""

    occupancy: int
    capacity: int | None
    level: str
    ts: str


class FootfallHourOut(_Out):
    hour: str
    entered: int
    left: int
    joins: int
    conversion: float | None


class FootfallDayOut(_Out):
    """Extension `GET /api/v1/footfall/hours`: entries, exits and queue joins per local hour."""

    day: str
    hours: list[FootfallHourOut]
    entered: int
    joins: int
    conversion: float | None


class PrintOutcomeOut(_Out):
    """A `print` frame on the staff stream: what became of one paper ticket."""

    ticket_id: str
    queue: str
    number: int
    printed: bool
    reason: str | None
    with_link: bool
    reprint: bool


class PrinterStatusOut(_Out):
    """Extension `GET /api/v1/printer`: whether this agent prints tickets, and where."""

    configured: bool
    name: str | None
    print_walk_ins: bool


# Exact types: a StaffTicketView is a TicketView too, but must keep its staff fields.
_MODELS: dict[type, type[_Out]] = {
    TicketView: TicketOut,
    StaffTicketView: StaffTicketOut,
    StaffQueue: StaffQueueOut,
    EstimateAccuracy: AccuracyOut,
    OccupancyView: OccupancyOut,
    FootfallDay: FootfallDayOut,
    BoardView: BoardOut,
    BoardQueue: BoardQueueOut,
    ServingView: ServingOut,
    PrintOutcome: PrintOutcomeOut,
    PrinterStatus: PrinterStatusOut,
}


def to_json(view: object) -> Any:
    """A view model as JSON-ready data (for event streams and page data), through the same
    model its HTTP answer uses; TypeError for anything else (as json.dumps would)."""
    model = _MODELS.get(type(view))
    if model is None:
        raise TypeError(f"{type(view).__name__} is not a view the web layer serialises")
    return model.model_validate(view).model_dump(mode="json")


def view_json(view: object) -> str | None:
    """A view model as compact JSON text, or None if it is not one: the same model and the
    same JSON as `to_json` + `json.dumps`, but written by pydantic's serializer in one step
    (an event stream sends one per watcher per change: issue 17's fan-out)."""
    fast = fast_view_json(view)
    if fast is not None:
        return fast.decode()
    model = _MODELS.get(type(view))
    if model is None:
        return None
    return model.model_validate(view).model_dump_json()
