"""Appointments in the core, pure (issue 14): the day list's strict parser, the check-in
window, and how many bookings a newcomer's estimate counts as ahead."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from agent.core.appointments import (
    AppointmentStatus,
    CheckInWindow,
    booked_ahead,
    booking_code,
    check_in_window,
    parse_appointment_day,
)
from agent.core.customers import MalformedMessage

T0 = datetime(2026, 12, 1, 13, 0, tzinfo=UTC)
GOOD = {
    "day": "2026-12-01",
    "version": 4,
    "appointments": [
        {"id": "a-1", "queue": "advice", "at": "2026-12-01T14:30:00+01:00", "name": "Camille",
         "party_size": 2, "customer_id": "c-1", "checkin_code": "x" * 20},
        {"id": "a-2", "queue": "advice", "at": "2026-12-01T13:45:00Z", "status": "cancelled"},
    ],
}  # fmt: skip


def test_a_day_list_parses() -> None:
    day = parse_appointment_day(json.dumps(GOOD).encode(), "2026-12-01")
    assert (day.day, day.version, len(day.appointments)) == ("2026-12-01", 4, 2)
    first, second = day.appointments
    assert first.at == T0 + timedelta(minutes=30) and first.party_size == 2
    assert second.status == AppointmentStatus.CANCELLED and second.name == ""


def _with(**changes: object) -> dict[str, object]:
    item = dict(GOOD["appointments"][0]) | changes  # type: ignore[index]
    return GOOD | {"appointments": [item]}


@pytest.mark.parametrize(
    "doc",
    [
        GOOD | {"day": "2026-12-02"},  # not the topic's day
        GOOD | {"day": "2026-13-01"},
        GOOD | {"version": -1},
        GOOD | {"version": 2**63},
        GOOD | {"version": True},
        GOOD | {"appointments": {}},
        GOOD | {"appointments": [1]},
        GOOD | {"appointments": [GOOD["appointments"][0]] * 2},  # type: ignore[index]
        _with(id=""),
        _with(queue="Advice"),
        _with(at="14:30"),
        _with(at="2026-12-01T14:30:00"),  # no zone
        _with(party_size=0),
        _with(party_size=2.5),
        _with(name="x" * 81),
        _with(customer_id="no spaces allowed"),
        _with(checkin_code="short"),
        _with(status="maybe"),
        [1, 2],
    ],
)
def test_anything_off_is_malformed(doc: object) -> None:
    with pytest.raises(MalformedMessage):
        parse_appointment_day(json.dumps(doc).encode(), "2026-12-01")


@pytest.mark.parametrize("payload", [b"", b"{", b"[" * 100_000, b"9" * 5000, b"\xff"])
def test_bytes_that_are_not_a_list_are_malformed(payload: bytes) -> None:
    with pytest.raises(MalformedMessage):
        parse_appointment_day(payload, "2026-12-01")


def test_the_check_in_window_and_the_booking_code() -> None:
    at = T0
    assert check_in_window(at, at - timedelta(seconds=901), 900, 600) == CheckInWindow.TOO_EARLY
    assert check_in_window(at, at - timedelta(seconds=900), 900, 600) == CheckInWindow.ON_TIME
    assert check_in_window(at, at + timedelta(seconds=600), 900, 600) == CheckInWindow.ON_TIME
    assert check_in_window(at, at + timedelta(seconds=601), 900, 600) == CheckInWindow.LATE
    assert booking_code("RE-B1." + "a" * 16) == "a" * 16
    assert booking_code("RE-B1.short") is None and booking_code("RE-T1.x.y") is None


def test_bookings_ahead_of_a_newcomer_are_those_due_before_their_call() -> None:
    def minutes(*values: float) -> list[datetime]:
        return [T0 + timedelta(minutes=m) for m in values]

    def wait_for(people: int) -> float:  # five minutes a person
        return 300.0 * people

    window = (600.0, 1800.0)  # late_s, ahead_s
    # Two ahead: called in 10 min without bookings. Bookings at 4 and 9 min come first, which
    # pushes the call to 20 min, so the one at 18 min counts too; 40 min is beyond the head
    # start (placed behind a newcomer), -15 min is past late_s (it will not come on time).
    due = minutes(4, 9, 18, 40, -15)
    assert booked_ahead(due, T0, window, wait_for, 2) == 3
    assert booked_ahead([], T0, window, wait_for, 2) == 0
    assert booked_ahead(minutes(25), T0, window, wait_for, 0) == 0
