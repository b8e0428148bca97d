"""Drain the outbox to the broker with our own bounded in-flight window.

Why not paho's queue: a QoS 1 publish while offline is queued in paho's memory and flushed all
at once on reconnect, ignoring `max_inflight` (paho issue #492), and lost on a crash. So the
outbox is the only source of truth: a row is deleted only after its PUBACK, at most `window`
messages are unacknowledged at any time, and after a reconnect sending starts again from the
oldest unacknowledged row (duplicates are possible and carry the same `id`; gaps are not).

A PUBACK is recorded by moving the rows to the sent log, which is a write (and an fsync).
PUBACKs that arrive while one such write runs are recorded together by the next one, group
commit style: a 100k-event drain took 501 transactions of ~3.5 ms (1.7 of its 1.9 s) when
each message's PUBACK had its own (issue 17). Until recorded, acknowledged seqs are never
offered again. When the disk is
full that write fails; the connection is fine, so it is kept: the acknowledged seqs are held in
memory, never offered again, and written as one transaction as soon as a retry succeeds (every
0.25 s, doubling up to 5 s). Raising instead made the link reconnect and send the whole outbox
again ~2.6 times a second (issue 12, item 7). The held set is bounded (`held_max`): past it no
new rows are read, so a disk that stays full for hours costs a fixed amount of memory and the
rows simply wait in the outbox. Held seqs are lost on a restart, and then sent again once, which
the contract's at-least-once allows.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Awaitable, Callable, Sequence

from agent.aio import cancel_and_wait
from agent.metrics import Metrics
from agent.store.outbox import Outbox, OutboxEntry
from agent.store.unit_of_work import UnitOfWork

_LOGGER = logging.getLogger(__name__)

PublishFn = Callable[[str, bytes], Awaitable[None]]
# 10 000 ints in a set are well under 1 MiB; far more than a window's worth of batches.
HELD_MAX = 10_000
RETRY_FIRST_S = 0.25
RETRY_MAX_S = 5.0


def encode_batch(entries: Sequence[OutboxEntry]) -> bytes:
    """One event as an object; several as a JSON array (contract §4: drains a backlog fast)."""
    if len(entries) == 1:
        return entries[0].body.encode("utf-8")
    return ("[" + ",".join(entry.body for entry in entries) + "]").encode("utf-8")


class OutboxPublisher:
    def __init__(
        self,
        uow: UnitOfWork,
        outbox: Outbox,
        metrics: Metrics,
        *,
        topic: str,
        window: int,
        batch_max_events: int,
        held_max: int = HELD_MAX,
    ) -> None:
        self._uow = uow
        self._outbox = outbox
        self._metrics = metrics
        self._topic = topic
        self._window = window
        self._batch_max = batch_max_events
        self.peak_inflight = 0
        self._rewind_to: int | None = None
        self._held_max = held_max
        # Seqs the broker acknowledged whose rows could not be moved to the sent log yet.
        self._held: set[int] = set()
        self._held_added = asyncio.Event()
        # Seqs acknowledged since the last write began, and those the running write records.
        self._acked: set[int] = set()
        self._recording: set[int] = set()
        self._acked_added = asyncio.Event()
        self.storage_problem: str | None = None

    @property
    def held(self) -> int:
        """How many acknowledged seqs wait in memory to be recorded."""
        return len(self._held)

    def rewind(self, from_seq: int) -> None:
        """Send again from ``from_seq`` (rows a resend request put back in the outbox)."""
        self._rewind_to = from_seq if self._rewind_to is None else min(self._rewind_to, from_seq)
        self._uow.outbox_wakeup.set()

    async def run(self, publish: PublishFn) -> None:
        """Publish until cancelled or until a publish fails (the connection is then gone).

        A storage error never ends the run: the connection is not what failed.
        """
        cursor = 0  # highest seq handed to the broker on this connection
        inflight: set[asyncio.Task[None]] = set()
        wakeup = self._uow.outbox_wakeup
        recorder = asyncio.create_task(self._record_held(), name="outbox-ack-recorder")
        acks = asyncio.create_task(self._record_acks(), name="outbox-ack-writer")
        try:
            while True:
                if self._rewind_to is not None:
                    # Entries already in flight above this point may go twice: duplicates
                    # carry the same id, which the contract allows.
                    cursor = min(cursor, self._rewind_to - 1)
                    self._rewind_to = None
                free = self._window - len(inflight)
                paused = len(self._held) + len(self._acked) >= self._held_max
                self._metrics.outbox_drain_paused.set(1 if paused else 0)
                read: list[OutboxEntry] = []
                if free > 0:
                    wakeup.clear()  # before reading: a commit after the read sets it again
                if free > 0 and not paused:
                    try:
                        read = await self._uow.runner.run(
                            self._outbox.pending, cursor, free * self._batch_max
                        )
                    except sqlite3.Error as exc:
                        self._storage_failed("pending events cannot be read", exc)
                        await asyncio.sleep(RETRY_MAX_S)
                        continue
                    if not self._held:
                        self.storage_problem = None
                # Acknowledged already (held, not yet recorded): never offered again.
                entries = [entry for entry in read if not self._acknowledged(entry.seq)]
                if read:
                    cursor = max(cursor, read[-1].seq)
                for start in range(0, len(entries), self._batch_max):
                    batch = entries[start : start + self._batch_max]
                    inflight.add(asyncio.create_task(self._send(publish, batch)))
                self._note_inflight(len(inflight))
                if read and len(inflight) < self._window:
                    continue  # more may be waiting behind what was just read
                await self._wait(inflight, wakeup, watch_wakeup=len(inflight) < self._window)
        finally:
            await cancel_and_wait({*inflight, recorder, acks})
            # Not written yet (or the write was cut short): the held recorder takes them over,
            # so they are not offered again (a row already moved is skipped by the write).
            self._held.update(self._acked, self._recording)
            self._acked.clear()
            self._recording.clear()
            self._metrics.outbox_acks_unrecorded.set(len(self._held))
            for task in inflight:
                if not task.cancelled():
                    task.exception()  # the connection is gone; these errors say nothing new
            self._note_inflight(0)

    async def _wait(
        self, inflight: set[asyncio.Task[None]], wakeup: asyncio.Event, *, watch_wakeup: bool
    ) -> None:
        waiters: set[asyncio.Future[object]] = set(inflight)  # type: ignore[arg-type]
        wake_task = asyncio.create_task(wakeup.wait()) if watch_wakeup else None
        if wake_task is not None:
            waiters.add(wake_task)  # type: ignore[arg-type]
        try:
            done, _ = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if wake_task is not None and not wake_task.done():
                wake_task.cancel()
        for task in done:
            if task is not wake_task:
                inflight.discard(task)
                task.result()  # a failed publish ends this connection's run

    def _acknowledged(self, seq: int) -> bool:
        return seq in self._held or seq in self._acked or seq in self._recording

    async def _send(self, publish: PublishFn, batch: Sequence[OutboxEntry]) -> None:
        await publish(self._topic, encode_batch(batch))
        self._metrics.events_published.inc(len(batch))
        seqs = [entry.seq for entry in batch]
        if self._held:
            # Behind earlier held seqs (a failed write): the held recorder writes them all.
            self._held.update(seqs)
            self._metrics.outbox_acks_unrecorded.set(len(self._held))
            self._held_added.set()
            return
        self._acked.update(seqs)
        self._acked_added.set()

    async def _record_acks(self) -> None:
        """Write what was acknowledged, as one transaction per write (runs per connection):
        PUBACKs arriving during a write wait for the next one."""
        while True:
            await self._acked_added.wait()
            self._acked_added.clear()
            if not self._acked:
                continue
            self._recording, self._acked = self._acked, set()
            try:
                await self._uow.runner.run(self._outbox.acknowledge, sorted(self._recording))
            except sqlite3.Error as exc:
                self._storage_failed("acknowledged events cannot be recorded", exc)
                self._held.update(self._recording)
                self._metrics.outbox_acks_unrecorded.set(len(self._held))
                self._held_added.set()
            self._recording = set()

    async def _record_held(self) -> None:
        """Retry writing the held acknowledgements until it succeeds (runs per connection)."""
        delay = RETRY_FIRST_S
        while True:
            self._held_added.clear()
            if not self._held:
                await self._held_added.wait()
                continue
            await asyncio.sleep(delay)
            seqs = sorted(self._held)
            try:
                await self._uow.runner.run(self._outbox.acknowledge, seqs)
            except sqlite3.Error as exc:
                self._storage_failed("acknowledged events cannot be recorded", exc)
                delay = min(RETRY_MAX_S, delay * 2)
                continue
            self._held.difference_update(seqs)
            self._metrics.outbox_acks_unrecorded.set(len(self._held))
            delay = RETRY_FIRST_S
            if not self._held:
                if self.storage_problem is not None:
                    _LOGGER.info(
                        "recorded %d held acknowledgements; storage writable again", len(seqs)
                    )
                self.storage_problem = None
                self._uow.outbox_wakeup.set()  # a paused drain may go on

    def _storage_failed(self, what: str, exc: sqlite3.Error) -> None:
        self._metrics.storage_errors.inc()
        first = self.storage_problem is None
        self.storage_problem = f"{what} (the connection is kept): {exc}"
        if first:
            _LOGGER.error("%s; held in memory and retried", self.storage_problem)

    def _note_inflight(self, count: int) -> None:
        self._metrics.mqtt_inflight.set(count)
        if count > self.peak_inflight:
            self.peak_inflight = count
            self._metrics.mqtt_inflight_peak.set(count)
