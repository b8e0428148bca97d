"""The streams' direct view encoders (agent/web/view_encoding.py) write what the HTTP models
write: the same fields, in the same order, with the same values."""

from __future__ import annotations

import json
from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from agent.core.estimate import WaitRange
from agent.core.queue import LeftReason, Source, TicketState
from agent.services.queue import EstimateAccuracy, StaffQueue, StaffTicketView, TicketView
from agent.services.queue.views import BookedView
from agent.web.models import StaffQueueOut, StaffTicketOut, TicketOut
from agent.web.view_encoding import fast_view_json
from tests.unit.test_view_models import TICKET

_T0 = datetime(2026, 12, 2, 9, 30, 5, 123456, tzinfo=UTC)


def _ticket(**changes: object) -> TicketView:
    # The view-model tests' ticket, with a name that JSON must escape and a few characters
    # outside ASCII, which it writes as they are.
    base = replace(TICKET, name='Zoë «Ünïcode» "quoted" \\ back', created_at=_T0)
    return replace(base, **changes)  # type: ignore[arg-type]


def _staff(ticket: TicketView, **changes: object) -> StaffTicketView:
    values = {f.name: getattr(ticket, f.name) for f in fields(TicketView)}
    values |= {
        "waited_s": 95,
        "late": False,
        "at_door": True,
        "undo_s": 0,
        "priority": None,
        "booked_at": None,
    }
    return StaffTicketView(**(values | changes))  # type: ignore[arg-type]


def _model_json(view: object) -> dict[str, object]:
    model = {TicketView: TicketOut, StaffTicketView: StaffTicketOut, StaffQueue: StaffQueueOut}
    return json.loads(model[type(view)].model_validate(view).model_dump_json())  # type: ignore[no-any-return]


def _same(view: object) -> None:
    fast = fast_view_json(view)
    assert fast is not None
    ours, theirs = json.loads(fast), _model_json(view)
    assert ours == theirs
    assert list(ours) == list(theirs)  # the field order too, as a reader of the raw text sees


def test_the_encoders_know_every_field_of_the_models() -> None:
    # A field added to a model (and to its view) and not to the encoder fails here.
    assert list(TicketOut.model_fields) == [f.name for f in fields(TicketView)]
    assert list(StaffTicketOut.model_fields) == [f.name for f in fields(StaffTicketView)]
    assert list(StaffQueueOut.model_fields) == [f.name for f in fields(StaffQueue)]


def test_a_waiting_a_called_and_a_left_ticket() -> None:
    _same(_ticket())
    _same(_ticket(state=TicketState.CALLED, position=0, called_at=_T0, counter="2"))
    left = _ticket(state=TicketState.LEFT, left_reason=LeftReason.WALKED_OUT, position=0)
    _same(replace(left, source=Source.STAFF, approaching=False, snoozed=True, recalls=2))
    # A time in another zone is written in UTC, as the models write it.
    _same(_ticket(created_at=_T0.astimezone(timezone(timedelta(hours=-5)))))


def test_a_staff_queue_with_every_part_filled() -> None:
    waiting = tuple(
        _staff(_ticket(id=f"w{n}", position=n), priority="vip" if n == 2 else None)
        for n in range(1, 4)
    )
    called = (
        _staff(
            _ticket(id="c1", state=TicketState.CALLED, position=0, called_at=_T0),
            late=True,
            undo_s=7,
            booked_at=_T0 + timedelta(minutes=5),
        ),
    )
    view = StaffQueue(
        queue="advice",
        label="Conseil / Advice",
        waiting=waiting,
        called=called,
        accuracy=EstimateAccuracy(tickets=12, mean_abs_error_s=41.25, underestimate_share=0.1),
        booked=(BookedView(id="b1", at=_T0, name="Ana", party_size=1),),
    )
    _same(view)
    _same(replace(view, waiting=(), called=(), booked=(), accuracy=EstimateAccuracy(0, None, None)))


@settings(max_examples=200, deadline=None)
@given(
    name=st.text(max_size=40),
    number=st.integers(0, 10**6),
    low=st.integers(0, 10**5),
    spread=st.integers(0, 10**5),
    seconds=st.integers(0, 10**8),
    counter=st.none() | st.text(min_size=1, max_size=16),
    state=st.sampled_from(TicketState),
    share=st.none() | st.floats(0, 1),
    error=st.none() | st.floats(0, 1e6),
)
def test_any_view_is_written_as_its_model_writes_it(
    name: str,
    number: int,
    low: int,
    spread: int,
    seconds: int,
    counter: str | None,
    state: TicketState,
    share: float | None,
    error: float | None,
) -> None:
    moment = datetime(2020, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds, microseconds=seconds)
    ticket = _ticket(
        name=name,
        number=number,
        eta=WaitRange(low, low + spread),
        created_at=moment,
        called_at=moment,
        counter=counter,
        state=state,
    )
    _same(ticket)
    staff = _staff(ticket, waited_s=seconds, booked_at=moment)
    _same(staff)
    accuracy = EstimateAccuracy(number, error, share)
    _same(StaffQueue("q", name, (staff,), (staff,), accuracy))
