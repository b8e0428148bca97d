"""The gap watcher: saves each store's progress and asks stores for their holes.

With several consumers sharing the stream, no consumer sees a store's whole sequence; only the
table does (docs/scaling.md). So the watcher works on the table, and exactly one runs at a time
whatever the number of ingest processes: each process tries a session-level PostgreSQL advisory
lock every pass, and the one holding it does the work. When that process dies its connection
closes, the lock goes with it, and another process takes over at its next pass.

A hole is asked for once it has stayed open `resend_after_s` seconds (a store's resend of its
unacknowledged window and the other consumers' queues may fill it by themselves first), then
again every `resend_after_s` while it stays open.

A loss at the **end** of a store's sequence leaves no hole until the store's next event: a
broker that acknowledged a store's last events and lost them (a NATS stream without a leader
for a few seconds after a node died, say) looks exactly like a quiet store. So a store silent
for `probe_after_s` is asked for what may lie beyond its highest seq
(`max_seq + 1 .. max_seq + 10 000`): the agent resends what it has there from its sent log and
ignores seqs it never allocated, so a store that really was quiet answers with nothing. The
answer can be lost the same way (the fleet test killed the stream's leader: the agents' answers
to the first probe went to a stream with no leader yet), so while the highest seq stays the
same the store is probed again, each time after twice the previous wait (`probe_after_s`, then
2x, 4x, ... up to `probe_max_s`): a handful of probes per quiet night, not one per pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg
from psycopg.rows import TupleRow

from agent.core.resend import MAX_SPAN
from central.gaps import Range, requests_for
from central.ledger import StoreLedger, read_ledgers
from central.metrics import IngestMetrics

_LOGGER = logging.getLogger(__name__)

_WATCHER_LOCK = 0x7265_7461_696D  # the advisory lock id of the one gap watcher

Publish = Callable[[str, bytes], Awaitable[None]]

_SAVE_PROGRESS = """
UPDATE retail_store_progress p
SET contiguous_seq = u.c, max_seq = greatest(p.max_seq, u.m),
    last_received_at = greatest(p.last_received_at, u.r)
FROM unnest(%s::text[], %s::bigint[], %s::bigint[], %s::timestamptz[]) AS u(s, c, m, r)
WHERE p.store = u.s
"""


@dataclass(frozen=True, slots=True)
class HoleRow:
    store: str
    from_seq: int
    to_seq: int
    first_seen_at: datetime
    last_asked_at: datetime | None
    asks: int


@dataclass(frozen=True, slots=True)
class ProbeState:
    """The tail probes made past a store's highest seq: past which seq, how many, when."""

    max_seq: int | None
    probes: int
    at: datetime | None


@dataclass(frozen=True, slots=True)
class ResendAsk:
    store: str
    from_seq: int
    to_seq: int


class GapWatcher:
    def __init__(
        self,
        dsn: str,
        prefix: str,
        publish: Publish,
        metrics: IngestMetrics,
        *,
        resend_after_s: float = 5.0,
        interval_s: float = 1.0,
        probe_after_s: float = 30.0,
        probe_max_s: float = 3600.0,
    ) -> None:
        self._dsn = dsn
        self._prefix = prefix
        self._publish = publish
        self._metrics = metrics
        self._resend_after = timedelta(seconds=resend_after_s)
        self._interval = interval_s
        self._probe_after = timedelta(seconds=probe_after_s)
        self._probe_max = timedelta(seconds=probe_max_s)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                conn = await psycopg.AsyncConnection.connect(self._dsn, autocommit=True)
                async with conn:
                    await self._lead(conn, stop)
            except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
                _LOGGER.warning("gap watcher: database unavailable (%s); retrying", exc)
            self._metrics.watcher_leader.set(0)
            await _sleep(stop, self._interval)

    async def _lead(self, conn: psycopg.AsyncConnection[TupleRow], stop: asyncio.Event) -> None:
        while not stop.is_set():
            row = await (
                await conn.execute("SELECT pg_try_advisory_lock(%s)", (_WATCHER_LOCK,))
            ).fetchone()
            leader = bool(row and row[0])
            self._metrics.watcher_leader.set(1 if leader else 0)
            if leader:
                asks = await self.one_pass(conn)
                for ask in asks:
                    await self._ask(ask)
            await _sleep(stop, self._interval)

    async def one_pass(self, conn: psycopg.AsyncConnection[TupleRow]) -> list[ResendAsk]:
        """Save progress and holes; return the resend requests now due (not yet sent)."""
        now, ledgers = await read_ledgers(conn)
        asks: list[ResendAsk] = []
        async with conn.transaction():
            old = await self._holes(conn)
            await conn.execute(
                _SAVE_PROGRESS,
                (
                    [s.store for s in ledgers],
                    [s.contiguous_seq for s in ledgers],
                    [s.max_seq for s in ledgers],
                    [s.last_received_at for s in ledgers],
                ),
            )
            await conn.execute("DELETE FROM retail_holes")
            rows: list[HoleRow] = []
            for ledger in ledgers:
                for hole in ledger.holes:
                    row = self._carry(ledger.store, hole, old.get(ledger.store, []), now)
                    if self._due(row, now):
                        asks += [
                            ResendAsk(row.store, lo, hi) for lo, hi in requests_for(hole, MAX_SPAN)
                        ]
                        row = HoleRow(*hole_key(row), row.first_seen_at, now, row.asks + 1)
                    rows.append(row)
            asks += await self._probes(conn, ledgers, now)
            async with conn.cursor() as cursor:
                await cursor.executemany(
                    "INSERT INTO retail_holes VALUES (%s, %s, %s, %s, %s, %s)",
                    [
                        (r.store, r.from_seq, r.to_seq, r.first_seen_at, r.last_asked_at, r.asks)
                        for r in rows
                    ],
                )
        self._export(now, ledgers)
        return asks

    async def _probes(
        self, conn: psycopg.AsyncConnection[TupleRow], ledgers: list[StoreLedger], now: datetime
    ) -> list[ResendAsk]:
        """Tail probes due now (and marked as made, in the pass's transaction)."""
        cursor = await conn.execute(
            "SELECT store, probed_max_seq, probes, probed_at FROM retail_store_progress"
        )
        rows = await cursor.fetchall()
        probed = {str(store): ProbeState(seq, probes, at) for store, seq, probes, at in rows}
        due: list[tuple[StoreLedger, int]] = []  # (store, its probe count once this one is made)
        for ledger in ledgers:
            if (
                ledger.max_seq <= 0
                or ledger.last_received_at is None
                or now - ledger.last_received_at < self._probe_after
            ):
                continue
            state = probed.get(ledger.store, ProbeState(None, 0, None))
            if state.max_seq != ledger.max_seq:
                due.append((ledger, 1))  # a new silence: the first probe past this seq
            elif state.at is None or now - state.at >= self._probe_wait(state.probes):
                due.append((ledger, state.probes + 1))
        if due:
            await conn.execute(
                "UPDATE retail_store_progress p"
                " SET probed_max_seq = u.m, probes = u.n, probed_at = %s"
                " FROM unnest(%s::text[], %s::bigint[], %s::int[]) AS u(s, m, n)"
                " WHERE p.store = u.s",
                (
                    now,
                    [s.store for s, _ in due],
                    [s.max_seq for s, _ in due],
                    [n for _, n in due],
                ),
            )
        return [ResendAsk(s.store, s.max_seq + 1, s.max_seq + MAX_SPAN) for s, _ in due]

    def _probe_wait(self, probes: int) -> timedelta:
        """How long after the `probes`-th probe past the same seq the next one is made."""
        factor: int = 2 ** min(probes, 30)
        return min(self._probe_after * factor, self._probe_max)

    @staticmethod
    async def _holes(conn: psycopg.AsyncConnection[TupleRow]) -> dict[str, list[HoleRow]]:
        cursor = await conn.execute(
            "SELECT store, from_seq, to_seq, first_seen_at, last_asked_at, asks FROM retail_holes"
        )
        holes: dict[str, list[HoleRow]] = {}
        for store, low, high, seen, asked, asks in await cursor.fetchall():
            holes.setdefault(store, []).append(HoleRow(store, low, high, seen, asked, asks))
        return holes

    @staticmethod
    def _carry(store: str, hole: Range, old: list[HoleRow], now: datetime) -> HoleRow:
        """A hole keeps the age of the holes it overlaps (a partial fill splits or shrinks it)."""
        low, high = hole
        before = [h for h in old if h.from_seq <= high and low <= h.to_seq]
        if not before:
            return HoleRow(store, low, high, now, None, 0)
        asked = [h.last_asked_at for h in before if h.last_asked_at is not None]
        return HoleRow(
            store,
            low,
            high,
            min(h.first_seen_at for h in before),
            max(asked) if asked else None,
            max(h.asks for h in before),
        )

    def _due(self, row: HoleRow, now: datetime) -> bool:
        if now - row.first_seen_at < self._resend_after:
            return False
        return row.last_asked_at is None or now - row.last_asked_at >= self._resend_after

    async def _ask(self, ask: ResendAsk) -> None:
        topic = f"{self._prefix}/stores/{ask.store}/resend"
        payload = json.dumps({"from_seq": ask.from_seq, "to_seq": ask.to_seq}).encode()
        try:
            await self._publish(topic, payload)
        except Exception:  # a failed request is made again at the next due time
            _LOGGER.exception("resend request to %s failed", ask.store)
            return
        self._metrics.resend_requests.inc()
        _LOGGER.info("asked %s for seq %d..%d", ask.store, ask.from_seq, ask.to_seq)

    def _export(self, now: datetime, ledgers: list[StoreLedger]) -> None:
        for ledger in ledgers:
            self._metrics.store_contiguous.labels(ledger.store).set(ledger.contiguous_seq)
            self._metrics.store_holes.labels(ledger.store).set(ledger.open_holes)
            self._metrics.store_losses.labels(ledger.store).set(ledger.known_losses)
            lag = ledger.seconds_since_last_event(now)
            if lag is not None:
                self._metrics.store_lag.labels(ledger.store).set(lag)


def hole_key(row: HoleRow) -> tuple[str, int, int]:
    return row.store, row.from_seq, row.to_seq


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
