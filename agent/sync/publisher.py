"""Drain the outbox to the broker with our own bounded in-flight window.

Why not paho's queue: a QoS 1 publish while offline is queued in paho's memory and flushed all
at once on reconnect, ignoring `max_inflight` (paho issue #492), and lost on a crash. So the
outbox is the only source of truth: a row is deleted only after its PUBACK, at most `window`
messages are unacknowledged at any time, and after a reconnect sending starts again from the
oldest unacknowledged row (duplicates are possible and carry the same `id`; gaps are not).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from agent.aio import cancel_and_wait
from agent.metrics import Metrics
from agent.store.outbox import Outbox, OutboxEntry
from agent.store.unit_of_work import UnitOfWork

_LOGGER = logging.getLogger(__name__)

PublishFn = Callable[[str, bytes], Awaitable[None]]


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
    ) -> None:
        self._uow = uow
        self._outbox = outbox
        self._metrics = metrics
        self._topic = topic
        self._window = window
        self._batch_max = batch_max_events
        self.peak_inflight = 0
        self._rewind_to: int | None = None

    def rewind(self, from_seq: int) -> None:
        """Send again from ``from_seq`` (rows a resend request put back in the outbox)."""
        self._rewind_to = from_seq if self._rewind_to is None else min(self._rewind_to, from_seq)
        self._uow.outbox_wakeup.set()

    async def run(self, publish: PublishFn) -> None:
        """Publish until cancelled or until a publish fails (the connection is then gone)."""
        cursor = 0  # highest seq handed to the broker on this connection
        inflight: set[asyncio.Task[None]] = set()
        wakeup = self._uow.outbox_wakeup
        try:
            while True:
                if self._rewind_to is not None:
                    # Entries already in flight above this point may go twice: duplicates
                    # carry the same id, which the contract allows.
                    cursor = min(cursor, self._rewind_to - 1)
                    self._rewind_to = None
                free = self._window - len(inflight)
                entries: list[OutboxEntry] = []
                if free > 0:
                    wakeup.clear()  # before reading: a commit after the read sets it again
                    entries = await self._uow.runner.run(
                        self._outbox.pending, cursor, free * self._batch_max
                    )
                for start in range(0, len(entries), self._batch_max):
                    batch = entries[start : start + self._batch_max]
                    inflight.add(asyncio.create_task(self._send(publish, batch)))
                    cursor = batch[-1].seq
                self._note_inflight(len(inflight))
                if entries and len(inflight) < self._window:
                    continue  # more may be waiting behind what was just read
                await self._wait(inflight, wakeup, watch_wakeup=len(inflight) < self._window)
        finally:
            await cancel_and_wait(inflight)
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

    async def _send(self, publish: PublishFn, batch: Sequence[OutboxEntry]) -> None:
        await publish(self._topic, encode_batch(batch))
        await self._uow.runner.run(self._outbox.acknowledge, [entry.seq for entry in batch])
        self._metrics.events_published.inc(len(batch))

    def _note_inflight(self, count: int) -> None:
        self._metrics.mqtt_inflight.set(count)
        if count > self.peak_inflight:
            self.peak_inflight = count
            self._metrics.mqtt_inflight_peak.set(count)
