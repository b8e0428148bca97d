"""The durable outbox: every event, numbered, kept until the broker acknowledged it.

`append` must run inside the transaction of the state change that caused the events, so that
the change and its events are committed together or not at all. `seq` is allocated from a
counter in `meta`, which survives restarts and the deletion of acknowledged rows, so it is
contiguous per store for the life of the database (contract §4).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from agent.core.clock import rfc3339
from agent.core.events import DomainEvent, OutboxDropped
from agent.core.ports import Clock
from agent.store.database import Database

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    seq: int
    body: str  # the contract envelope, as JSON text


@dataclass(frozen=True, slots=True)
class OutboxStats:
    depth: int
    oldest_seq: int | None
    oldest_created_at: float | None
    next_seq: int


# By ranges of seqs: what a group of PUBACKs acknowledges is mostly one contiguous run, so a
# 6 000-event write is a handful of statements, not two per event.
_MOVE_TO_SENT_LOG = (
    "INSERT OR REPLACE INTO outbox_sent(seq, event_id, type, created_at, body, acked_at)"
    " SELECT seq, event_id, type, created_at, body, ? FROM outbox WHERE seq BETWEEN ? AND ?"
)


@dataclass(frozen=True, slots=True)
class Requeued:
    """What a resend request could put back in the outbox, and what it could not."""

    requeued: int
    unavailable: list[tuple[int, int]]  # (from_seq, to_seq) ranges no longer kept


class Outbox:
    def __init__(
        self,
        database: Database,
        store_id: str,
        clock: Clock,
        *,
        sent_keep_events: int = 50_000,
        sent_keep_s: float = 24 * 3600,
    ) -> None:
        self._database = database
        self._store_id = store_id
        self._clock = clock
        self._sent_keep_events = sent_keep_events
        self._sent_keep_s = sent_keep_s

    def append(self, events: Sequence[DomainEvent]) -> list[OutboxEntry]:
        """Number and store ``events``; the caller's transaction makes them durable."""
        if not events:
            return []
        conn = self._database.conn
        if not conn.in_transaction:
            raise RuntimeError("Outbox.append must run inside the state change's transaction")
        next_seq = self._next_seq()
        now = self._clock.now()
        ts = rfc3339(now)
        created_at = now.timestamp()
        entries = []
        rows = []
        for offset, event in enumerate(events):
            seq = next_seq + offset
            event_id = str(uuid.uuid4())
            envelope = {
                "id": event_id,
                "store": self._store_id,
                "seq": seq,
                "type": event.type,
                "ts": ts,
                "data": event.data(),
            }
            body = json.dumps(envelope, separators=(",", ":"), ensure_ascii=False)
            rows.append((seq, event_id, event.type, created_at, body))
            entries.append(OutboxEntry(seq, body))
        conn.executemany(
            "INSERT INTO outbox(seq, event_id, type, created_at, body) VALUES (?, ?, ?, ?, ?)",
            rows,
        )
        self._database.set_meta("next_seq", str(next_seq + len(events)))
        return entries

    def pending(self, after_seq: int, limit: int) -> list[OutboxEntry]:
        """The oldest unacknowledged entries with ``seq > after_seq``, in order."""
        rows = self._database.conn.execute(
            "SELECT seq, body FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?", (after_seq, limit)
        ).fetchall()
        return [OutboxEntry(int(seq), str(body)) for seq, body in rows]

    def acknowledge(self, seqs: Iterable[int]) -> int:
        """Move entries the broker acknowledged to the sent log; returns how many were there.

        The sent log is what a resend request (docs/sync.md) can still serve; it is bounded by
        count and age, and trimmed here so it never grows past its bound between purges.
        """
        ranges = _runs(seqs)
        if not ranges:
            return 0
        now = self._clock.now().timestamp()
        conn = self._database.conn
        with self._database.atomic():
            conn.executemany(_MOVE_TO_SENT_LOG, [(now, low, high) for low, high in ranges])
            before = conn.total_changes
            conn.executemany("DELETE FROM outbox WHERE seq BETWEEN ? AND ?", ranges)
            deleted = conn.total_changes - before
            highest = ranges[-1][1]
            conn.execute(
                "DELETE FROM outbox_sent WHERE seq <= ?", (highest - self._sent_keep_events,)
            )
            return deleted

    def requeue(self, from_seq: int, to_seq: int) -> Requeued:
        """Put sent events ``from_seq..to_seq`` back in the outbox (a resend request).

        Rows still in the outbox are left alone (they are going out anyway); seqs kept in
        neither table (never allocated, or past the sent log's bound) are reported back.
        """
        to_seq = min(to_seq, self._next_seq() - 1)
        if to_seq < from_seq:
            return Requeued(0, [])
        conn = self._database.conn
        with self._database.atomic():
            before = conn.total_changes
            conn.execute(
                "INSERT OR IGNORE INTO outbox(seq, event_id, type, created_at, body)"
                " SELECT seq, event_id, type, created_at, body FROM outbox_sent"
                " WHERE seq BETWEEN ? AND ?",
                (from_seq, to_seq),
            )
            requeued = conn.total_changes - before
            conn.execute("DELETE FROM outbox_sent WHERE seq BETWEEN ? AND ?", (from_seq, to_seq))
            present = {
                int(seq)
                for (seq,) in conn.execute(
                    "SELECT seq FROM outbox WHERE seq BETWEEN ? AND ?", (from_seq, to_seq)
                )
            }
        return Requeued(requeued, _missing_ranges(from_seq, to_seq, present))

    def forget_customer(self, customer_id: str) -> int:
        """Erase: drop already-delivered events about ``customer_id`` from the sent log.

        Events still waiting in the outbox go up (the central side erases on its side when it
        gets `privacy.erased`); only the local copy of delivered ones is ours to delete.
        """
        needle = json.dumps({"customer_id": customer_id}, separators=(",", ":"))[1:-1]
        conn = self._database.conn
        before = conn.total_changes
        conn.execute("DELETE FROM outbox_sent WHERE instr(body, ?) > 0", (needle,))
        return conn.total_changes - before

    def purge_sent(self) -> int:
        """Drop sent-log rows older than the age bound."""
        cutoff = self._clock.now().timestamp() - self._sent_keep_s
        with self._database.atomic():
            before = self._database.conn.total_changes
            self._database.conn.execute("DELETE FROM outbox_sent WHERE acked_at < ?", (cutoff,))
            return self._database.conn.total_changes - before

    def stats(self) -> OutboxStats:
        depth, oldest_seq, oldest_at = self._database.conn.execute(
            "SELECT COUNT(*), MIN(seq), MIN(created_at) FROM outbox"
        ).fetchone()
        return OutboxStats(int(depth), oldest_seq, oldest_at, self._next_seq())

    def enforce_retention(self, max_events: int, max_age_s: float) -> list[OutboxDropped]:
        """Apply the offline retention policy: drop the oldest entries past either bound.

        Dropping is the stated policy (rather than refusing new events) because refusing would
        mean refusing customers at the door; each drop is logged, counted and announced by an
        `outbox.dropped` event so the central side can tell a policy gap from a lost message.
        """
        dropped: list[OutboxDropped] = []
        cutoff = self._clock.now().timestamp() - max_age_s
        with self._database.atomic():
            conn = self._database.conn
            row = conn.execute(
                "SELECT MIN(seq), MAX(seq), COUNT(*) FROM outbox WHERE created_at < ?", (cutoff,)
            ).fetchone()
            if row[2]:
                low = self._announced_from("created_at < ?", cutoff, row[0])
                conn.execute("DELETE FROM outbox WHERE created_at < ?", (cutoff,))
                dropped.append(OutboxDropped(low, row[1], row[2], "max_age"))
            (depth,) = conn.execute("SELECT COUNT(*) FROM outbox").fetchone()
            # Only past the bound (at it, nothing is dropped: dropping there would replace one
            # waiting event by its announcement at every check, for ever). Leave room for the
            # announcement itself so the bound holds after it is appended.
            if depth > max_events:
                excess = depth - (max_events - 1)
                low, high = conn.execute(
                    "SELECT MIN(seq), MAX(seq) FROM (SELECT seq FROM outbox ORDER BY seq LIMIT ?)",
                    (excess,),
                ).fetchone()
                low = self._announced_from("seq <= ?", high, low)
                conn.execute("DELETE FROM outbox WHERE seq <= ?", (high,))
                dropped.append(OutboxDropped(low, high, excess, "max_events"))
            if dropped:
                self.append(dropped)
        for event in dropped:
            _LOGGER.warning(
                "outbox retention (%s) dropped %d events, seq %d..%d",
                event.reason,
                event.count,
                event.from_seq,
                event.to_seq,
            )
        return dropped

    def _announced_from(self, where: str, param: float, low: int) -> int:
        """``low``, or lower if the rows about to be dropped include earlier announcements.

        An `outbox.dropped` event that is itself dropped (still waiting when its own turn
        came) would take the explanation of its gap with it; the new announcement's `from_seq`
        reaches back over it instead, so the announcements the central side receives always
        cover every dropped `seq`.
        """
        rows = self._database.conn.execute(
            f"SELECT body FROM outbox WHERE type = ? AND {where}",  # noqa: S608 - fixed clauses
            (OutboxDropped.type, param),
        ).fetchall()
        for (body,) in rows:
            low = min(low, int(json.loads(body)["data"]["from_seq"]))
        return low

    def _next_seq(self) -> int:
        value = self._database.meta("next_seq")
        return 1 if value is None else int(value)


def _runs(seqs: Iterable[int]) -> list[tuple[int, int]]:
    """Distinct seqs as ascending (first, last) runs of consecutive values."""
    runs: list[tuple[int, int]] = []
    for seq in sorted(set(seqs)):
        if runs and runs[-1][1] == seq - 1:
            runs[-1] = (runs[-1][0], seq)
        else:
            runs.append((seq, seq))
    return runs


def _missing_ranges(low: int, high: int, present: set[int]) -> list[tuple[int, int]]:
    ranges: list[tuple[int, int]] = []
    start: int | None = None
    for seq in range(low, high + 1):
        if seq in present:
            if start is not None:
                ranges.append((start, seq - 1))
                start = None
        elif start is None:
            start = seq
    if start is not None:
        ranges.append((start, high))
    return ranges
