"""Weeks of a store's past, written into an agent's SQLite file: door counts per hour,
tickets (phones and walk-ins, served / no-show / walked out / left, with the estimate each
was given) and recognised visits. For the manager view's tests and benchmark.

It writes the rows an agent writes (the tables of agent/store/migrations.py) and returns them
as plain data too, so a test can compute the expected figures its own way. The database
must already have the agent's schema (open it once with the agent first).

A busy store, by default: about 3,000 people in per day, 400 tickets per day, 200
recognised visits per day from a pool of 1,500 consenting customers, open 09:00-20:00
local time, with lunch and late-afternoon peaks.
"""

from __future__ import annotations

import math
import random
import sqlite3
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

OPEN_HOUR, CLOSE_HOUR = 9, 20


@dataclass(frozen=True, slots=True)
class Busy:
    entries_per_day: int = 3000
    tickets_per_day: int = 400
    visits_per_day: int = 200
    customers: int = 1500


@dataclass(frozen=True, slots=True)
class SeededTicket:
    created_at: datetime
    called_at: datetime | None
    state: str
    left_reason: str | None
    low_s: float
    high_s: float


@dataclass
class History:
    hours: list[tuple[str, str, int]]  # (local hour, door, people in)
    tickets: list[SeededTicket]
    visits: list[tuple[str, datetime]]  # (customer id, arrived at)


def _ts(moment: datetime) -> str:
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _weight(hour: float) -> float:
    return 0.3 + math.exp(-((hour - 12.5) ** 2) / 2) + 0.8 * math.exp(-((hour - 17.5) ** 2) / 3)


def _moment(rng: random.Random, day: date, zone: ZoneInfo) -> datetime:
    hours = [h + 0.5 for h in range(OPEN_HOUR, CLOSE_HOUR)]
    hour = rng.choices(hours, weights=[_weight(h) for h in hours])[0] - 0.5
    local = datetime.combine(day, time(int(hour)), zone) + timedelta(seconds=rng.uniform(0, 3599))
    return local.astimezone(UTC)


def generate(
    rng: random.Random, last_day: date, days: int, timezone: str, busy: Busy = Busy()
) -> History:
    zone = ZoneInfo(timezone)
    history = History([], [], [])
    pool = [f"cust-{n:05d}" for n in range(busy.customers)]
    for offset in range(days):
        day = last_day - timedelta(days=days - 1 - offset)
        scale = rng.uniform(0.7, 1.3) * (1.25 if day.weekday() == 5 else 1.0)
        hours = range(OPEN_HOUR, CLOSE_HOUR)
        weights = [_weight(h + 0.5) for h in hours]
        total = sum(weights)
        for hour, weight in zip(hours, weights, strict=True):
            people = round(busy.entries_per_day * scale * weight / total)
            main = round(people * 0.8)
            history.hours.append((f"{day.isoformat()}T{hour:02d}", "main", main))
            history.hours.append((f"{day.isoformat()}T{hour:02d}", "side", people - main))
        for _ in range(round(busy.tickets_per_day * scale)):
            history.tickets.append(_ticket(rng, _moment(rng, day, zone)))
        for _ in range(round(busy.visits_per_day * scale)):
            history.visits.append((rng.choice(pool), _moment(rng, day, zone)))
    return history


def _ticket(rng: random.Random, created: datetime) -> SeededTicket:
    estimate = rng.uniform(120, 1500)
    low, high = estimate * 0.7, estimate * 1.3
    wait = max(10.0, rng.gauss(estimate, estimate * 0.35))
    fate = rng.random()
    if fate < 0.06:  # left while waiting: 2/3 by themselves or staff, 1/3 walked out
        reason = "walked_out" if rng.random() < 0.33 else rng.choice(("customer", "staff"))
        return SeededTicket(created, None, "left", reason, low, high)
    called = created + timedelta(seconds=wait)
    state = "no_show" if fate < 0.14 else "served"
    return SeededTicket(created, called, state, None, low, high)


def write(path: Path, history: History) -> None:
    """Insert the history into the agent's database file (schema already there)."""
    conn = sqlite3.connect(path)
    try:
        with conn:
            conn.executemany(
                "INSERT INTO footfall_hours(hour, door, entered, left_) VALUES (?, ?, ?, ?)",
                [(hour, door, n, n) for hour, door, n in history.hours],
            )
            conn.executemany(
                "INSERT INTO tickets(id, queue, number, state, sort_key, created_at, "
                "secret_hash, called_at, ended_at, predicted_low_s, predicted_high_s, "
                "left_reason, source) VALUES (?, 'advice', ?, ?, ?, ?, '', ?, ?, ?, ?, ?, ?)",
                [
                    (
                        uuid.uuid4().hex[:12],
                        n % 999 + 1,
                        t.state,
                        t.created_at.timestamp(),
                        _ts(t.created_at),
                        _ts(t.called_at) if t.called_at else None,
                        _ts(t.called_at or t.created_at + timedelta(minutes=20)),
                        t.low_s,
                        t.high_s,
                        t.left_reason,
                        "staff" if n % 5 == 0 else "window",
                    )
                    for n, t in enumerate(history.tickets)
                ],
            )
            conn.executemany(
                "INSERT INTO visits(visit_id, customer_id, via, arrived_at, left_at, dwell_s) "
                "VALUES (?, ?, 'ble', ?, NULL, NULL)",
                [(uuid.uuid4().hex, c, _ts(at)) for c, at in history.visits],
            )
    finally:
        conn.close()
