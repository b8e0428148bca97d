"""`retail-edge central status --db DSN [--json]` (contract 8.9): one line per store.

Keys: `store`, `contiguous_seq` (highest contiguous seq, counting announced losses as
closed), `open_holes` (seqs missing below the highest one and not announced), `known_losses`
(seqs the store announced as gone), `seconds_since_last_event` (since the newest of its events
reached the table; null if none). Extensions: `max_seq`, `holes` (the open ranges) and `state`
(the store's last status message, `online` / `offline`, null if none seen).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import psycopg

from central.ledger import read_ledgers
from central.schema import migrate


async def status_rows(dsn: str) -> list[dict[str, Any]]:
    with psycopg.connect(dsn) as setup:
        migrate(setup)  # a fresh central database answers "no stores", not an error
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        now, ledgers = await read_ledgers(conn)
    rows: list[dict[str, Any]] = []
    for ledger in sorted(ledgers, key=lambda s: s.store):
        age = ledger.seconds_since_last_event(now)
        rows.append(
            {
                "store": ledger.store,
                "contiguous_seq": ledger.contiguous_seq,
                "open_holes": ledger.open_holes,
                "known_losses": ledger.known_losses,
                "seconds_since_last_event": None if age is None else round(age, 1),
                "max_seq": ledger.max_seq,
                "holes": [[low, high] for low, high in ledger.holes],
                "state": ledger.state,
            }
        )
    return rows


def format_rows(rows: list[dict[str, Any]]) -> str:
    """One line per store, every value named: `store contiguous_seq=N open_holes=N ...`."""
    lines = []
    for row in rows:
        age = row["seconds_since_last_event"]
        holes = ",".join(f"{low}-{high}" for low, high in row["holes"]) or "-"
        lines.append(
            f"{row['store']} contiguous_seq={row['contiguous_seq']} "
            f"open_holes={row['open_holes']} known_losses={row['known_losses']} "
            f"seconds_since_last_event={'-' if age is None else f'{age:.1f}'} "
            f"max_seq={row['max_seq']} holes={holes} state={row['state'] or '-'}"
        )
    return "\n".join(lines)


def run_status(dsn: str, as_json: bool) -> str:
    rows = asyncio.run(status_rows(dsn))
    return json.dumps(rows) if as_json else format_rows(rows)
