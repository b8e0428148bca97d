"""The services' view models become the contract's JSON at the edge, the same way on every
path: an HTTP answer, an event stream frame, a page's data."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from agent.core.estimate import WaitRange
from agent.core.queue import Source, Ticket, TicketState
from agent.services.queue import EstimateAccuracy, StaffQueue, StaffTicketView, TicketView
from agent.services.queue.views import BOARD_SIZE, BoardView, board_queue
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
        priority=None,
        booked_at=None,
    )
    queue = StaffQueue(
        "advice", "Conseil", (staff,), (), EstimateAccuracy(3, 42.5, None)
    )  # fmt: skip
    expected = {
        "queue": "advice",
        "label": "Conseil",
        "waiting": [
            TICKET_JSON
            | {
                "waited_s": 95,
                "late": True,
                "at_door": False,
                "undo_s": 0,
                "priority": None,
                "booked_at": None,
            }
        ],
        "called": [],
        "accuracy": {"tickets": 3, "mean_abs_error_s": 42.5, "underestimate_share": None},
        "booked": [],
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


def _called(number: int, called_at: datetime | None) -> Ticket:
    return Ticket(
        id=f"t{number}",
        queue="advice",
        number=number,
        state=TicketState.SERVED if called_at else TicketState.WAITING,
        sort_key=float(number),
        created_at=CREATED,
        secret_hash="x",
        called_at=called_at,
    )


def test_the_board_shows_todays_calls_newest_first_in_the_contract_shape() -> None:
    """Contract 8.6: `{"queues": [{"queue", "serving": [{"number", "counter", "called_at"}]}]}`;
    yesterday's numbers (they restart each day) and tickets never called are left out, and
    only the last few are kept."""
    now = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)
    tickets = [_called(n, datetime(2026, 3, 2, 9, n, tzinfo=UTC)) for n in range(1, 8)]
    tickets += [_called(40, datetime(2026, 3, 1, 18, 0, tzinfo=UTC)), _called(9, None)]
    paris = ZoneInfo("Europe/Paris")
    row = board_queue(
        "advice", "Conseil", tickets, lambda t: t.astimezone(paris).date().isoformat(), now
    )
    assert [s.number for s in row.serving] == [7, 6, 5, 4, 3][:BOARD_SIZE]
    body = to_json(BoardView(queues=(row,)))
    assert body == {
        "queues": [
            {
                "queue": "advice",
                "serving": [
                    {"number": n, "counter": None, "called_at": f"2026-03-02T09:0{n}:00.000Z"}
                    for n in (7, 6, 5, 4, 3)
                ],
            }
        ]
    }
    # A call just after midnight in Paris (still the day before in UTC) is today's.
    late = _called(1, datetime(2026, 3, 1, 23, 30, tzinfo=UTC))
    day = board_queue("advice", "", [late], lambda t: t.astimezone(paris).date().isoformat(), now)
    assert [s.number for s in day.serving] == [1]
