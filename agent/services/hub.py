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
        # The silence timer is armed once and moved on only when it fires, not set and
        # cancelled around every wait: with 500 phones watching, `asyncio.timeout` per
        # message was ~6 % of a call's fan-out (issue 17, benchmarks/PROFILE.md).
        self._deadline = 0.0  # loop time at which the current wait ends with None
        self._timer: asyncio.TimerHandle | None = None
        self._waiting = False

    async def next(self, idle_s: float) -> Message | None:
        """The next message, or None after ``idle_s`` seconds of silence."""
        if not self.queue.empty():
            return self.queue.get_nowait()
        loop = asyncio.get_running_loop()
        self._deadline = loop.time() + idle_s
        if self._timer is None or self._timer.when() > self._deadline:
            self._arm(loop)
        self._waiting = True
        try:
            # None here is the timer's (the hub never publishes None): the silence ended it.
            return await self.queue.get()
        finally:
            self._waiting = False

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _arm(self, loop: asyncio.AbstractEventLoop) -> None:
        self.close()
        self._timer = loop.call_at(self._deadline, self._silence, loop)

    def _silence(self, loop: asyncio.AbstractEventLoop) -> None:
        self._timer = None
        if not self._waiting or not self.queue.empty():
            return  # busy, or a message is on its way to the reader: the next wait re-arms
        if self._deadline - loop.time() > _TIMER_SLACK_S:
            self._arm(loop)  # a message came meanwhile: the silence started later
        else:
            self.queue.put_nowait(None)


_TIMER_SLACK_S = 0.001  # a timer may run this much before its time: counted as on time


Snapshot = Callable[[], Awaitable[list[Message]]]


Listener = Callable[[Message], None]


class Hub:
    def __init__(self) -> None:
        self._subscribers: set[Subscription] = set()
        self._snapshots: dict[str, list[Snapshot]] = {}
        self._listeners: dict[str, list[Listener]] = {}

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
            subscription.close()

    @contextlib.contextmanager
    def listen(self, topic: str, listener: Listener) -> Iterator[None]:
        """Call ``listener`` with each message of ``topic`` as it is published, inside
        `publish`: for one consumer that serves many streams itself (the ticket pages'
        fan-out, agent/web/ticket_streams.py), which must return at once and do its work
        later. No queue, so nothing to fall behind on."""
        listeners = self._listeners.setdefault(topic, [])
        listeners.append(listener)
        try:
            yield
        finally:
            listeners.remove(listener)
            if not listeners:
                del self._listeners[topic]

    def publish(self, topic: str, name: str, data: object) -> None:
        message = Message(topic, name, data)
        for listener in self._listeners.get(topic, ()):
            listener(message)
        for subscription in list(self._subscribers):
            if topic not in subscription.topics or subscription.lagged:
                continue
            try:
                subscription.queue.put_nowait(message)
            except asyncio.QueueFull:
                subscription.lagged = True
                self._subscribers.discard(subscription)

    def has_subscribers(self, topic: str) -> bool:
        return topic in self._listeners or any(topic in s.topics for s in self._subscribers)
