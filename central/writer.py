"""One batch of parsed events into PostgreSQL, in one transaction.

`INSERT ... ON CONFLICT DO NOTHING` on both keys ((store, seq) and id) makes a redelivery a
no-op; the events not inserted are then looked up once to tell a duplicate (the same event
again, the normal case of at-least-once) from a conflict (another event under a stored key,
which the agent never makes and which is kept out). `outbox.dropped` announcements are also
recorded as known losses in the same transaction, so the gap watcher never sees one without
the other.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg
from psycopg.rows import TupleRow

from central.envelope import Event
from central.metrics import IngestMetrics

_INSERT = """
INSERT INTO retail_events (store, seq, id, type, ts, data)
SELECT s, q, i, t, ts, d::jsonb
FROM unnest(%s::text[], %s::bigint[], %s::text[], %s::text[], %s::timestamptz[], %s::text[])
    AS u(s, q, i, t, ts, d)
ON CONFLICT DO NOTHING
RETURNING store, seq
"""

_STORED_KEYS = """
SELECT e.store, e.seq, e.id
FROM unnest(%s::text[], %s::bigint[]) AS u(s, q)
JOIN retail_events e ON e.store = u.s AND e.seq = u.q
"""

_NEW_STORES = """
INSERT INTO retail_store_progress (store) SELECT unnest(%s::text[]) ON CONFLICT DO NOTHING
"""

_LOSS = """
INSERT INTO retail_known_losses (store, event_seq, from_seq, to_seq, reason)
VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING
"""


@dataclass(frozen=True, slots=True)
class WriteResult:
    inserted: int
    duplicates: int
    conflicts: int


class EventWriter:
    def __init__(self, conn: psycopg.AsyncConnection[TupleRow], metrics: IngestMetrics) -> None:
        self._conn = conn
        self._metrics = metrics

    async def write(self, events: list[Event]) -> WriteResult:
        """Insert and commit; raises on a database error (the caller acks nothing then)."""
        if not events:
            return WriteResult(0, 0, 0)
        started = time.perf_counter()
        async with self._conn.transaction():
            cursor = await self._conn.execute(
                _INSERT,
                (
                    [e.store for e in events],
                    [e.seq for e in events],
                    [e.id for e in events],
                    [e.type for e in events],
                    [e.ts for e in events],
                    [e.data_json for e in events],
                ),
            )
            inserted = {(str(row[0]), int(row[1])) for row in await cursor.fetchall()}
            duplicates, conflicts = await self._classify(events, inserted)
            await self._conn.execute(_NEW_STORES, (sorted({e.store for e in events}),))
            for event in events:
                loss = known_loss(event)
                if loss is not None and (event.store, event.seq) in inserted:
                    await self._conn.execute(_LOSS, (event.store, event.seq, *loss))
        committed = datetime.now(UTC)
        self._metrics.commit_seconds.observe(time.perf_counter() - started)
        self._metrics.batch_events.observe(len(events))
        self._metrics.events.inc(len(inserted))
        self._metrics.duplicates.inc(duplicates)
        self._metrics.conflicts.inc(conflicts)
        for event in events:
            if (event.store, event.seq) in inserted:
                self._metrics.event_age.observe(max(0.0, (committed - event.ts).total_seconds()))
        return WriteResult(len(inserted), duplicates, conflicts)

    async def _classify(
        self, events: list[Event], inserted: set[tuple[str, int]]
    ) -> tuple[int, int]:
        counts = Counter((e.store, e.seq) for e in events)
        suspects = [
            e for e in events if (e.store, e.seq) not in inserted or counts[(e.store, e.seq)] > 1
        ]
        if not suspects:
            return 0, 0
        cursor = await self._conn.execute(
            _STORED_KEYS, ([e.store for e in suspects], [e.seq for e in suspects])
        )
        stored = {(str(r[0]), int(r[1])): str(r[2]) for r in await cursor.fetchall()}
        credited: set[tuple[str, int]] = set()  # keys whose inserted event has been found
        duplicates = conflicts = 0
        for event in suspects:
            key = (event.store, event.seq)
            same = stored.get(key) == event.id
            if same and key in inserted and key not in credited:
                credited.add(key)
            elif same:
                duplicates += 1
            else:
                conflicts += 1
        return duplicates, conflicts


def known_loss(event: Event) -> tuple[int, int, str] | None:
    """(from_seq, to_seq, reason) of a well-formed `outbox.dropped`, else None."""
    if event.type != "outbox.dropped":
        return None
    low, high, reason = (event.data.get(k) for k in ("from_seq", "to_seq", "reason"))
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (low, high)):
        return None
    assert isinstance(low, int) and isinstance(high, int)  # noqa: S101 - narrowed above
    if not 1 <= low <= high < event.seq:
        return None
    return low, high, reason if isinstance(reason, str) else "unknown"
