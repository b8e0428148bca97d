"""Each store's sequence as the table holds it: contiguous point, highest seq, open holes, known
losses, last event. Read by the gap watcher (which then saves the progress) and by `status`
(which only reads, so it is right even with no ingest running).

Only the rows above each store's saved contiguous point are read: the watcher moves that point
forward every pass, so a pass reads what arrived since the last one (plus, for a store with an
open hole, what lies above the hole).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import TupleRow

from central.gaps import Range, advance, missing

_ABOVE = """
SELECT e.store, e.seq, e.received_at
FROM retail_store_progress p JOIN retail_events e ON e.store = p.store AND e.seq > p.contiguous_seq
ORDER BY e.store, e.seq
"""

_PROGRESS = """
SELECT store, contiguous_seq, max_seq, last_received_at, state, state_at FROM retail_store_progress
"""

_LOSSES = """
SELECT store, from_seq, to_seq FROM retail_known_losses
"""


@dataclass(frozen=True, slots=True)
class StoreLedger:
    store: str
    contiguous_seq: int
    max_seq: int
    holes: list[Range]
    known_losses: int  # seqs announced as gone
    last_received_at: datetime | None
    state: str | None  # the store's retained status (online / offline), if seen

    @property
    def open_holes(self) -> int:
        return missing(self.holes)

    def seconds_since_last_event(self, now: datetime) -> float | None:
        if self.last_received_at is None:
            return None
        return max(0.0, (now - self.last_received_at).total_seconds())


async def read_ledgers(
    conn: psycopg.AsyncConnection[TupleRow],
) -> tuple[datetime, list[StoreLedger]]:
    """(the database's now, every store's ledger), in one snapshot."""
    async with conn.transaction():
        await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        now_row = await (await conn.execute("SELECT now()")).fetchone()
        progress = await (await conn.execute(_PROGRESS)).fetchall()
        above = await (await conn.execute(_ABOVE)).fetchall()
        loss_rows = await (await conn.execute(_LOSSES)).fetchall()
    assert now_row is not None  # noqa: S101 - SELECT now() returns one row
    now: datetime = now_row[0]
    stored: dict[str, list[int]] = defaultdict(list)
    latest: dict[str, datetime] = {}
    for store, seq, received_at in above:
        stored[store].append(int(seq))
        if store not in latest or received_at > latest[store]:
            latest[store] = received_at
    losses: dict[str, list[Range]] = defaultdict(list)
    for store, low, high in loss_rows:
        losses[store].append((int(low), int(high)))
    ledgers: list[StoreLedger] = []
    for store, contiguous, _max_seq, last_received_at, state, _state_at in progress:
        result = advance(int(contiguous), stored.get(store, []), losses.get(store, []))
        candidates = [t for t in (last_received_at, latest.get(store)) if t is not None]
        ledgers.append(
            StoreLedger(
                store=store,
                contiguous_seq=result.contiguous_seq,
                max_seq=max(result.max_seq, int(_max_seq)),
                holes=result.holes,
                known_losses=_lost(losses.get(store, [])),
                last_received_at=max(candidates) if candidates else None,
                state=state,
            )
        )
    return now, ledgers


def _lost(ranges: list[Range]) -> int:
    """Seqs covered by the announcements (overlapping announcements count once)."""
    merged: list[Range] = []
    for low, high in sorted(ranges):
        if merged and low <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], high))
        else:
            merged.append((low, high))
    return missing(merged)
