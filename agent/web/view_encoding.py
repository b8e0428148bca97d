"""The queue's views as JSON, written directly for the event streams' hot paths.

A call with 500 phones and 10 tablets watching encodes 500 ticket views and one staff view of
the whole line; through pydantic (`model_validate` of the view, then `model_dump_json`) that
was a fifth of the call's CPU (issue 17's fan-out, benchmarks/PROFILE.md). These write the
same JSON as the models in `agent/web/models.py` (`TicketOut`, `StaffTicketOut`,
`StaffQueueOut`): the same fields, in the same order, timestamps through the same `rfc3339`,
enums as their values. tests/unit/test_view_encoding.py holds them to the models' output,
field for field, so a field added to a model and not here fails there.
"""

from __future__ import annotations

from typing import Any

import orjson

from agent.core.clock import rfc3339
from agent.services.queue import StaffQueue, StaffTicketView, TicketView


def ticket_data(view: TicketView) -> dict[str, Any]:
    called_at, left_reason = view.called_at, view.left_reason
    return {
        "id": view.id,
        "queue": view.queue,
        "number": view.number,
        "state": view.state.value,
        "position": view.position,
        "eta": {"low_s": view.eta.low_s, "high_s": view.eta.high_s},
        "created_at": rfc3339(view.created_at),
        "called_at": None if called_at is None else rfc3339(called_at),
        "name": view.name,
        "party_size": view.party_size,
        "snoozed": view.snoozed,
        "recalls": view.recalls,
        "approaching": view.approaching,
        "counter": view.counter,
        "left_reason": None if left_reason is None else left_reason.value,
        "source": view.source.value,
    }


def staff_ticket_data(view: StaffTicketView) -> dict[str, Any]:
    data = ticket_data(view)
    data["waited_s"] = view.waited_s
    data["late"] = view.late
    data["at_door"] = view.at_door
    data["undo_s"] = view.undo_s
    data["priority"] = view.priority
    data["booked_at"] = None if view.booked_at is None else rfc3339(view.booked_at)
    return data


def staff_queue_data(view: StaffQueue) -> dict[str, Any]:
    accuracy = view.accuracy
    return {
        "queue": view.queue,
        "label": view.label,
        "waiting": [staff_ticket_data(t) for t in view.waiting],
        "called": [staff_ticket_data(t) for t in view.called],
        "accuracy": {
            "tickets": accuracy.tickets,
            "mean_abs_error_s": accuracy.mean_abs_error_s,
            "underestimate_share": accuracy.underestimate_share,
        },
        "booked": [
            {"id": b.id, "at": rfc3339(b.at), "name": b.name, "party_size": b.party_size}
            for b in view.booked
        ],
    }


def fast_view_json(view: object) -> bytes | None:
    """The view as compact JSON, or None for a type written the ordinary way (through its
    model). Exact types only: a subclass may carry fields these do not know."""
    if type(view) is TicketView:
        return orjson.dumps(ticket_data(view))
    if type(view) is StaffQueue:
        return orjson.dumps(staff_queue_data(view))
    if type(view) is StaffTicketView:
        return orjson.dumps(staff_ticket_data(view))
    return None
