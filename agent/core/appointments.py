"""Booked appointments (pure): the central service's day list, and where a booked customer
who checks in goes in the queue (issue 14; docs/queue.md#appointments, docs/sync.md).

    check-in before  booked - early_s            refused (too early: a walk-in, if staff wish)
    check-in within  [booked - early_s, booked + late_s]
                     ordered by booked - ahead_s (a head start, like a priority class)
    check-in after   booked + late_s             ordered as a walk-in who joined at check-in
    no check-in by   booked + no_show_after_s    the appointment is a no-show

The day list is the whole day each time (retained, one topic per day), with a version: a
list not newer than the one held is ignored, an appointment missing from a newer list or
marked `cancelled` in it is cancelled.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from agent.core.customers import CUSTOMER_ID_PATTERN, INT64_MAX, MalformedMessage, json_object

MAX_PAYLOAD_BYTES = 512 * 1024  # a busy day of a few thousand bookings
MAX_APPOINTMENTS = 5000
APPOINTMENT_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
QUEUE_ID = re.compile(r"[a-z0-9-]{1,32}")
# What the booking confirmation's QR code says: opaque, long enough not to be guessed.
CHECKIN_CODE = re.compile(r"[A-Za-z0-9_-]{16,128}")
DAY = re.compile(r"20[0-9]{2}-[01][0-9]-[0-3][0-9]")
# What the booking confirmation's QR code carries: this prefix, then the `checkin_code`.
BOOKING_CODE_PREFIX = "RE-B1."


def booking_code(payload: str) -> str | None:
    """The check-in code a scanned booking QR code carries, or None if it is not one."""
    if not payload.startswith(BOOKING_CODE_PREFIX):
        return None
    code = payload[len(BOOKING_CODE_PREFIX) :]
    return code if CHECKIN_CODE.fullmatch(code) else None


class AppointmentStatus(enum.StrEnum):
    BOOKED = "booked"
    CANCELLED = "cancelled"
    CHECKED_IN = "checked_in"
    NO_SHOW = "no_show"


@dataclass(frozen=True, slots=True)
class Appointment:
    id: str
    queue: str
    at: datetime
    name: str = ""
    party_size: int = 1
    customer_id: str | None = None
    checkin_code: str | None = None  # as received; the store keeps only its hash
    status: AppointmentStatus = AppointmentStatus.BOOKED


@dataclass(frozen=True, slots=True)
class AppointmentDay:
    """`ApplyAppointmentDay`'s content: one store day's list, as central published it."""

    day: str  # YYYY-MM-DD, store time
    version: int
    appointments: tuple[Appointment, ...]


@dataclass(frozen=True, slots=True)
class ApplyAppointmentDay:
    """Command from `{p}/stores/{store}/appointments/{day}`: replace that day's list."""

    content: AppointmentDay


class CheckInWindow(enum.Enum):
    TOO_EARLY = "too_early"
    ON_TIME = "on_time"
    LATE = "late"


def parse_appointment_day(payload: bytes, topic_day: str) -> AppointmentDay:
    """Strictly parse a day list; anything off raises MalformedMessage (counted, dropped)."""
    doc = json_object(payload, MAX_PAYLOAD_BYTES, "appointments")
    day = doc.get("day")
    if not isinstance(day, str) or not DAY.fullmatch(day) or day != topic_day:
        raise MalformedMessage("day must be the topic's YYYY-MM-DD")
    try:
        date.fromisoformat(day)
    except ValueError as exc:
        raise MalformedMessage("day is not a date") from exc
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or not 0 <= version <= INT64_MAX:
        raise MalformedMessage("version must be an integer from 0 to 2**63-1")
    items = doc.get("appointments")
    if not isinstance(items, list) or len(items) > MAX_APPOINTMENTS:
        raise MalformedMessage(f"appointments must be a list of at most {MAX_APPOINTMENTS}")
    parsed = tuple(_appointment(item) for item in items)
    if len({a.id for a in parsed}) != len(parsed):
        raise MalformedMessage("an appointment id is listed twice")
    return AppointmentDay(day, version, parsed)


def _appointment(item: object) -> Appointment:
    if not isinstance(item, dict):
        raise MalformedMessage("an appointment must be an object")
    ident, queue = item.get("id"), item.get("queue")
    if not isinstance(ident, str) or not APPOINTMENT_ID.fullmatch(ident):
        raise MalformedMessage("appointment id has an unexpected form")
    if not isinstance(queue, str) or not QUEUE_ID.fullmatch(queue):
        raise MalformedMessage("appointment queue has an unexpected form")
    at_text = item.get("at")
    if not isinstance(at_text, str):
        raise MalformedMessage("at must be an RFC 3339 time")
    try:
        at = datetime.fromisoformat(at_text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise MalformedMessage("at is not an RFC 3339 time") from exc
    if at.tzinfo is None:
        raise MalformedMessage("at has no time zone")
    name = item.get("name", "")
    if not isinstance(name, str) or len(name) > 80:
        raise MalformedMessage("name must be a string of at most 80 characters")
    party = item.get("party_size", 1)
    if not isinstance(party, int) or isinstance(party, bool) or not 1 <= party <= 20:
        raise MalformedMessage("party_size must be an integer from 1 to 20")
    customer_id = item.get("customer_id")
    if customer_id is not None and (
        not isinstance(customer_id, str) or not CUSTOMER_ID_PATTERN.fullmatch(customer_id)
    ):
        raise MalformedMessage("customer_id has an unexpected form")
    code = item.get("checkin_code")
    if code is not None and (not isinstance(code, str) or not CHECKIN_CODE.fullmatch(code)):
        raise MalformedMessage("checkin_code must be 16-128 letters, digits, _ or -")
    status = item.get("status", "booked")
    if status not in ("booked", "cancelled"):
        raise MalformedMessage("status must be booked or cancelled")
    return Appointment(
        id=ident,
        queue=queue,
        at=at,
        name=name,
        party_size=party,
        customer_id=customer_id,
        checkin_code=code,
        status=AppointmentStatus(status),
    )


def check_in_window(at: datetime, now: datetime, early_s: float, late_s: float) -> CheckInWindow:
    if now < at - timedelta(seconds=early_s):
        return CheckInWindow.TOO_EARLY
    if now <= at + timedelta(seconds=late_s):
        return CheckInWindow.ON_TIME
    return CheckInWindow.LATE


def booked_ahead(
    booked_at: Iterable[datetime],
    now: datetime,
    window: tuple[float, float],
    wait_for: Callable[[int], float],
    ahead: int,
) -> int:
    """How many of the still-expected appointments (booked, not checked in) a newcomer with
    ``ahead`` people before them should count as ahead too: those that would be placed before
    a ticket joining now (booked less than ``ahead_s`` from now), still able to come on time
    (booked less than ``late_s`` ago), and due before the newcomer would be called. That
    moment depends on the count itself, so it is found by iterating (it only grows, and
    stops). ``window`` is (late_s, ahead_s)."""
    late_s, ahead_s = window
    times = sorted(
        t
        for t in booked_at
        if now - timedelta(seconds=late_s) <= t <= now + timedelta(seconds=ahead_s)
    )
    extra = 0
    for _ in range(len(times) + 1):
        horizon = now + timedelta(seconds=wait_for(ahead + extra))
        due = sum(1 for t in times if t <= horizon)
        if due == extra:
            break
        extra = due
    return extra
