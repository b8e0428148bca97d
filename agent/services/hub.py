"""In-process publish/subscribe for live pages (SSE): queue changes, staff events.

Subscribers get a bounded queue. A subscriber that falls too far behind is closed rather than
allowed to grow memory; its browser reconnects and starts again from the current state.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field

SUBSCRIBER_BUFFER = 256

# The hub's topics: every tablet listens on the staff topic; a ticket page listens on its
# queue's topic and re-reads its ticket on each change.
STAFF_TOPIC = "staff"


def queue_topic(queue: str) -> str:
    return f"queue:{queue}"


@dataclass(slots=True)
class Message:
    topic: str
    name: str
    data: object
    # The message as the edge sends it (an SSE frame), made by the first subscriber that
    # sends it and reused by every other: one serialisation per change, not one per watcher
    # (10 tablets each encoding a 500-ticket queue view took half the loop; issue 17).
    encoded: str | None = field(default=None, compare=False)


class Subscription:
    def __init__(self, topics: frozenset[str]) -> None:
        self.topics = topics
        self.queue: asyncio.Queue[Message | None] = asyncio.Queue(SUBSCRIBER_BUFFER)
        self.lagged = False

    async def next(self, idle_s: float) -> Message | None:
        """The next message, or None after ``idle_s`` seconds of silence."""
        try:
            async with asyncio.timeout(idle_s):
                return await self.queue.get()
        except TimeoutError:
            return None


Snapshot = Callable[[], Awaitable[list[Message]]]


class Hub:
    def __init__(self) -> None:
        self._subscribers: set[Subscription] = set()
        self._snapshots: dict[str, list[Snapshot]] = {}

    def provide_snapshot(self, topic: str, snapshot: Snapshot) -> None:
        """What a new subscriber of ``topic`` is given first (the staff stream's open alerts),
        besides what the stream itself builds."""
        self._snapshots.setdefault(topic, []).append(snapshot)

    async def snapshot(self, topic: str) -> list[Message]:
        """Read after subscribing: a change made meanwhile is then sent twice, never lost."""
        messages: list[Message] = []
        for provider in self._snapshots.get(topic, []):
            messages += await provider()
        return messages

    @contextlib.contextmanager
    def subscribe(self, *topics: str) -> Iterator[Subscription]:
        subscription = Subscription(frozenset(topics))
        self._subscribers.add(subscription)
        try:
            yield subscription
        finally:
            self._subscribers.discard(subscription)

    def publish(self, topic: str, name: str, data: object) -> None:
        message = Message(topic, name, data)
        for subscription in list(self._subscribers):
            if topic not in subscription.topics or subscription.lagged:
                continue
            try:
                subscription.queue.put_nowait(message)
            except asyncio.QueueFull:
                subscription.lagged = True
                self._subscribers.discard(subscription)

    def has_subscribers(self, topic: str) -> bool:
        return any(topic in s.topics for s in self._subscribers)
