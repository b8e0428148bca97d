"""The services' view models become the contract's JSON at the edge, the same way on every
path: an HTTP answer, an event stream frame, a page's data."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from agent.core.estimate import WaitRange
from agent.core.queue import Source, TicketState
from agent.services.queue import EstimateAccuracy, StaffQueue, StaffTicketView, TicketView
from agent.web.models import StaffQueueOut, to_json
from agent.web.sse import sse_frame

CREATED = datetime(2026, 3, 2, 10, 0, 0, 123456, tzinfo=UTC)
TICKET = TicketView(
    id="abc",
    queue="advice",
    number=7,
    state=TicketState.WAITING,
    position=2,
    eta=WaitRange(60, 300),
    created_at=CREATED,
    called_at=None,
    name="Léa",
    party_size=2,
    snoozed=False,
    recalls=0,
    approaching=True,
    counter=None,
    left_reason=None,
    source=Source.STAFF,
)
TICKET_JSON = {
    "id": "abc",
    "queue": "advice",
    "number": 7,
    "state": "waiting",
    "position": 2,
    "eta": {"low_s": 60, "high_s": 300},
    "created_at": "2026-03-02T10:00:00.123Z",
    "called_at": None,
    "name": "Léa",
    "party_size": 2,
    "snoozed": False,
    "recalls": 0,
    "approaching": True,
    "counter": None,
    "left_reason": None,
    "source": "staff",
}


def test_a_ticket_is_the_contract_ticket_with_its_extensions() -> None:
    assert to_json(TICKET) == TICKET_JSON


def test_a_staff_queue_keeps_the_staff_fields_of_each_ticket() -> None:
    staff = StaffTicketView(
        **{f: getattr(TICKET, f) for f in TicketView.__dataclass_fields__},
        waited_s=95,
        late=True,
        at_door=False,
        undo_s=0,
    )
    queue = StaffQueue(
        "advice", "Conseil", (staff,), (), EstimateAccuracy(3, 42.5, None)
    )  # fmt: skip
    expected = {
        "queue": "advice",
        "label": "Conseil",
        "waiting": [TICKET_JSON | {"waited_s": 95, "late": True, "at_door": False, "undo_s": 0}],
        "called": [],
        "accuracy": {"tickets": 3, "mean_abs_error_s": 42.5, "underestimate_share": None},
    }
    assert to_json(queue) == expected
    # The staff stream's frame carries the same JSON as GET /api/v1/queues/{queue}.
    frame = sse_frame("queue", queue)
    assert frame.startswith("event: queue\ndata: ")
    assert json.loads(frame.split("data: ", 1)[1]) == expected
    assert StaffQueueOut.model_validate(queue).model_dump(mode="json") == expected


def test_anything_else_is_refused_rather_than_guessed() -> None:
    with pytest.raises(TypeError):
        sse_frame("queue", object())
