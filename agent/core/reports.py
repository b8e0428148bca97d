"""The manager view's figures, computed from the store's rows (pure: no I/O).

Definitions (docs/counter.md says the same in words):
- A ticket counts on the local day (store zone) it was created; `joins` are all tickets, from
  phones and walk-ins alike.
- A wait is `called_at - created_at` of a ticket that was called (first call). The estimate
  is the range the ticket was given when it joined: "within" when the wait fell inside it,
  "error" the mean absolute distance between the wait and the range's middle.
- Rates are shares of the tickets that ended in the period (served, no-show, left): no-show,
  walked out (`left` with reason `walked_out`) and left (the other `left` reasons).
- Joins per 100 entries: joins x 100 / people counted in by the door counters.
- New vs returning: recognised customers (consented) with a visit in the period, counted
  once each; "new" if their first visit the agent still holds (within visit retention) is in
  the period, "returning" otherwise. Per day the same with that day. Counts only.
"""

from __future__ import annotations

import bisect
import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

HOURS = 24
WEEKDAYS = 7


# Moments are POSIX seconds (UTC): the store reads them as numbers, so a 30-day report makes
# no datetime objects per row; local days come from the period's day boundaries (bisect).


@dataclass(frozen=True, slots=True)
class TicketRow:
    created_s: float
    called_s: float | None
    state: str
    left_reason: str | None
    predicted_low_s: float | None
    predicted_high_s: float | None


@dataclass(frozen=True, slots=True)
class VisitRow:
    customer_id: str
    arrived_s: float
    first_arrived_s: float  # the customer's earliest visit still held


@dataclass(frozen=True, slots=True)
class DayFigures:
    day: str  # local date, YYYY-MM-DD
    entries: int
    joins: int
    served: int
    no_show: int
    walked_out: int
    left: int
    median_wait_s: float | None
    within_estimate: float | None  # share 0..1 of called tickets
    estimate_error_s: float | None
    new_customers: int
    returning_customers: int


@dataclass(frozen=True, slots=True)
class ReportTotals:
    entries: int
    joins: int
    joins_per_100_entries: float | None
    ended: int
    no_show_rate: float | None
    walkout_rate: float | None
    left_rate: float | None
    median_wait_s: float | None
    p90_wait_s: float | None
    within_estimate: float | None
    estimate_error_s: float | None
    new_customers: int
    returning_customers: int


@dataclass(frozen=True, slots=True)
class ManagerReport:
    days: int
    first_day: str
    last_day: str
    timezone: str
    # Entries by hour of week: 7 rows (Monday first) of 24 local hours, summed over the period.
    entries_by_hour: tuple[tuple[int, ...], ...]
    daily: tuple[DayFigures, ...]
    totals: ReportTotals


@dataclass(frozen=True, slots=True)
class Period:
    """The last ``days`` local days, today included, and where they start in UTC."""

    days: int
    first_day: date
    last_day: date
    zone: ZoneInfo

    @classmethod
    def ending(cls, now: datetime, days: int, timezone: str) -> Period:
        zone = ZoneInfo(timezone)
        today = now.astimezone(zone).date()
        return cls(days, today - timedelta(days=days - 1), today, zone)

    @property
    def starts_at(self) -> datetime:
        return datetime.combine(self.first_day, time(0), self.zone)

    def day_names(self) -> list[str]:
        return [(self.first_day + timedelta(days=n)).isoformat() for n in range(self.days)]

    def day_starts(self) -> list[float]:
        """Local midnights from the first day to the day after the last, as POSIX seconds
        (a day with a DST change is 23 or 25 hours long, as it is for the store)."""
        return [
            datetime.combine(self.first_day + timedelta(days=n), time(0), self.zone).timestamp()
            for n in range(self.days + 1)
        ]


class _Days:
    """Which local day of the period a moment falls on."""

    def __init__(self, period: Period) -> None:
        self.names = period.day_names()
        self._starts = period.day_starts()

    def of(self, moment_s: float) -> str | None:
        index = bisect.bisect_right(self._starts, moment_s) - 1
        return self.names[index] if 0 <= index < len(self.names) else None


def percentile(values: Sequence[float], share: float) -> float | None:
    """Nearest-rank percentile of sorted ``values``."""
    if not values:
        return None
    return values[max(0, math.ceil(share * len(values)) - 1)]


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass
class _Day:
    entries: int = 0
    joins: int = 0
    served: int = 0
    no_show: int = 0
    walked_out: int = 0
    left: int = 0

    def __post_init__(self) -> None:
        self.waits: list[float] = []
        self.errors: list[float] = []
        self.within = 0
        self.new: set[str] = set()
        self.returning: set[str] = set()


def build_report(
    period: Period,
    hourly_entries: Iterable[tuple[str, int]],
    tickets: Iterable[TicketRow],
    visits: Iterable[VisitRow],
) -> ManagerReport:
    """``hourly_entries``: (local hour `YYYY-MM-DDTHH`, people in) of the period's days."""
    local = _Days(period)
    names = local.names
    days = {name: _Day() for name in names}
    heat = [[0] * HOURS for _ in range(WEEKDAYS)]
    for hour, entered in hourly_entries:
        day = days.get(hour[:10])
        if day is None:
            continue
        day.entries += entered
        heat[date.fromisoformat(hour[:10]).weekday()][int(hour[11:13])] += entered
    for ticket in tickets:
        name = local.of(ticket.created_s)
        if name is None:
            continue
        _count_ticket(days[name], ticket)
    first = period.first_day.isoformat()
    new_total: set[str] = set()
    seen_total: set[str] = set()
    for visit in visits:
        name = local.of(visit.arrived_s)
        if name is None:
            continue
        seen_total.add(visit.customer_id)
        first_day = local.of(visit.first_arrived_s)  # None: before the period
        day = days[name]
        (day.new if first_day == name else day.returning).add(visit.customer_id)
        if first_day is not None:
            new_total.add(visit.customer_id)
    # Someone new on Monday who came back on Tuesday is new on Monday, returning on Tuesday.
    for day in days.values():
        day.returning -= day.new
    daily = tuple(_day_figures(name, days[name]) for name in names)
    return ManagerReport(
        days=period.days,
        first_day=first,
        last_day=period.last_day.isoformat(),
        timezone=period.zone.key,
        entries_by_hour=tuple(tuple(row) for row in heat),
        daily=daily,
        totals=_totals(list(days.values()), len(new_total), len(seen_total - new_total)),
    )


def _count_ticket(day: _Day, ticket: TicketRow) -> None:
    day.joins += 1
    if ticket.state == "served":
        day.served += 1
    elif ticket.state == "no_show":
        day.no_show += 1
    elif ticket.state == "left":
        if ticket.left_reason == "walked_out":
            day.walked_out += 1
        else:
            day.left += 1
    if ticket.called_s is None:
        return
    wait = max(0.0, ticket.called_s - ticket.created_s)
    day.waits.append(wait)
    low, high = ticket.predicted_low_s, ticket.predicted_high_s
    if low is not None and high is not None:
        day.errors.append(abs(wait - (low + high) / 2))
        day.within += low <= wait <= high


def _day_figures(name: str, day: _Day) -> DayFigures:
    return DayFigures(
        day=name,
        entries=day.entries,
        joins=day.joins,
        served=day.served,
        no_show=day.no_show,
        walked_out=day.walked_out,
        left=day.left,
        median_wait_s=statistics.median(day.waits) if day.waits else None,
        within_estimate=_share(day.within, len(day.errors)),
        estimate_error_s=statistics.fmean(day.errors) if day.errors else None,
        new_customers=len(day.new),
        returning_customers=len(day.returning),
    )


def _totals(days: list[_Day], new: int, returning: int) -> ReportTotals:
    entries = sum(d.entries for d in days)
    joins = sum(d.joins for d in days)
    no_show = sum(d.no_show for d in days)
    walked_out = sum(d.walked_out for d in days)
    left = sum(d.left for d in days)
    ended = sum(d.served for d in days) + no_show + walked_out + left
    waits = sorted(w for d in days for w in d.waits)
    errors = [e for d in days for e in d.errors]
    return ReportTotals(
        entries=entries,
        joins=joins,
        joins_per_100_entries=100 * joins / entries if entries else None,
        ended=ended,
        no_show_rate=_share(no_show, ended),
        walkout_rate=_share(walked_out, ended),
        left_rate=_share(left, ended),
        median_wait_s=statistics.median(waits) if waits else None,
        p90_wait_s=percentile(waits, 0.9),
        within_estimate=_share(sum(d.within for d in days), len(errors)),
        estimate_error_s=statistics.fmean(errors) if errors else None,
        new_customers=new,
        returning_customers=returning,
    )
