"""The bounded, counted queue between the MQTT client and the inbound handlers.

A resync sends every retained customer record at once. Taken as fast as the socket gives
them, 10 000 records held ~50 MB of messages in memory (aiomqtt's own queue has no bound),
and the handlers, one transaction per message, fell ever further behind. Here:

- The link acknowledges (PUBACK) a QoS 1 message only once it is in this queue. When the
  queue is full the link stops taking messages, so it stops acknowledging, and the broker
  stops sending past its in-flight window (mosquitto's `max_inflight_messages`): the
  backpressure reaches the broker and nothing is dropped in the agent. What the broker then
  queues for us and drops past its own limit is the broker's loss, which the manifest
  reveals and the resync pages recover (agent.sync.customer_resync).
- The dispatcher drains what is waiting in one go, so customer records are applied in
  batches (one group commit for many records) instead of one fsync each.

Depth, peak and the times the queue was full are exported (docs/sync.md, "Inbound queue").
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass

from agent.metrics import Metrics

# Messages, and their bytes: whichever bound comes first (one message is always admitted
# into an empty queue, however large, so a 64 KiB record cannot wedge the link).
QUEUE_MAX_MESSAGES = 1000
QUEUE_MAX_BYTES = 8 * 1024 * 1024
# Messages handed to the handlers at most per drain.
DRAIN_MAX = 500


@dataclass(frozen=True, slots=True)
class InboundItem:
    topic: str
    payload: bytes


class InboundQueue:
    def __init__(
        self,
        metrics: Metrics,
        *,
        max_messages: int | None = None,
        max_bytes: int | None = None,
    ) -> None:
        self._metrics = metrics
        # Read at construction, not definition: a test can make the module's bound small.
        self._max_messages = QUEUE_MAX_MESSAGES if max_messages is None else max_messages
        self._max_bytes = QUEUE_MAX_BYTES if max_bytes is None else max_bytes
        self._items: deque[InboundItem] = deque()
        self._bytes = 0
        self._peak = 0
        self._not_empty = asyncio.Event()
        self._not_full = asyncio.Event()
        self._not_full.set()

    def __len__(self) -> int:
        return len(self._items)

    def _full(self, size: int) -> bool:
        if not self._items:
            return False
        return len(self._items) >= self._max_messages or self._bytes + size > self._max_bytes

    async def put(self, item: InboundItem) -> None:
        """Wait for room, then enqueue (the caller acknowledges the message after this)."""
        size = len(item.payload)
        if self._full(size):
            self._metrics.inbound_queue_full.inc()
            while self._full(size):
                self._not_full.clear()
                await self._not_full.wait()
        self._items.append(item)
        self._bytes += size
        self._not_empty.set()
        if len(self._items) > self._peak:
            self._peak = len(self._items)
            self._metrics.inbound_queue_peak.set(self._peak)
        self._metrics.inbound_queue_depth.set(len(self._items))

    async def drain(self, max_items: int = DRAIN_MAX) -> list[InboundItem]:
        """Wait for at least one message; return up to ``max_items``, oldest first."""
        while not self._items:
            self._not_empty.clear()
            await self._not_empty.wait()
        taken: list[InboundItem] = []
        while self._items and len(taken) < max_items:
            item = self._items.popleft()
            self._bytes -= len(item.payload)
            taken.append(item)
        self._metrics.inbound_queue_depth.set(len(self._items))
        self._not_full.set()
        return taken
