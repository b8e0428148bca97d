"""Commit a state change and the events it caused in one durable transaction."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import TypeVar

from agent.core.events import DomainEvent
from agent.store.database import Database
from agent.store.outbox import Outbox
from agent.store.runner import StoreRunner

R = TypeVar("R")

Work = Callable[[], tuple[R, Sequence[DomainEvent]]]


class UnitOfWork:
    """`commit(work)`: run ``work`` in a transaction, outbox its events, wake the publisher.

    ``work`` runs on the store thread, returns (result, events); when `commit` returns, both
    the state change and its events are on stable storage.
    """

    def __init__(self, runner: StoreRunner, database: Database, outbox: Outbox) -> None:
        self.runner = runner
        self.database = database
        self.outbox = outbox
        self.outbox_wakeup = asyncio.Event()

    def commit_now(self, work: Work[R]) -> R:
        """The transaction itself; call it on the store thread (or via `commit`)."""
        with self.database.atomic():
            result, events = work()
            self.outbox.append(events)
        return result

    async def commit(self, work: Work[R]) -> R:
        result = await self.runner.run(self.commit_now, work)
        self.outbox_wakeup.set()
        return result

    async def record(self, events: Sequence[DomainEvent]) -> None:
        """Commit events that change no other state."""
        await self.commit(lambda: (None, events))
