"""Commit state changes and the events they caused, durably, with group commit.

`commit(work)` runs ``work`` on the store thread inside a transaction, appends the events it
returns to the outbox in the same transaction, and returns once that transaction is on stable
storage. Works submitted while a commit is in progress are committed together in the next
transaction (each in its own savepoint, so one failing work does not undo the others): under
load many changes share one fsync, and each caller still hears back only after its own change
is durable.

A work returns wire events (`DomainEvent`, appended to the outbox) and internal events
(`agent.core.messages`, never written). After the group's commit every event of each work is
handed to the message bus, in commit order; `commit` returns once the reactions to its events
ran too, so a caller sees the whole effect of its change (`submit` callers get the committed
result without waiting for the reactions).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ParamSpec, Protocol, TypeVar

from agent.core.events import DomainEvent
from agent.store.database import Database
from agent.store.outbox import Outbox
from agent.store.runner import StoreRunner

_LOGGER = logging.getLogger(__name__)
R = TypeVar("R")
T = TypeVar("T")
P = ParamSpec("P")

# A work's events: wire events and internal ones (agent.core.messages) alike.
Work = Callable[[], tuple[R, Sequence[object]]]
MAX_GROUP = 256


class Dispatcher(Protocol):
    """Where committed events go (`agent.services.messagebus.MessageBus`; the store layer
    does not import services)."""

    def emit(self, events: Sequence[object]) -> asyncio.Future[None] | None: ...

    def in_handler(self) -> bool: ...


@dataclass(slots=True)
class _Pending:
    work: Work[Any]
    future: asyncio.Future[Any]
    events: Sequence[object] = ()
    dispatched: asyncio.Future[None] | None = None


class UnitOfWork:
    def __init__(
        self, runner: StoreRunner, database: Database, outbox: Outbox, bus: Dispatcher
    ) -> None:
        self.runner = runner
        self.database = database
        self.outbox = outbox
        self._bus = bus
        self.outbox_wakeup = asyncio.Event()
        self._pending: list[_Pending] = []
        self._flusher: asyncio.Task[None] | None = None
        # The last write failure (disk full, read-only file system), until a write succeeds:
        # shown in /healthz, /metrics and on the tablets.
        self.write_problem: str | None = None

    async def read(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Run a read on the store thread (no transaction, no events): services read through
        this instead of reaching into the runner."""
        return await self.runner.run(fn, *args, **kwargs)

    def submit(self, work: Work[R]) -> asyncio.Future[R]:
        """Queue ``work`` for the next group commit; works run in submission order."""
        return self._enqueue(work).future

    async def commit(self, work: Work[R]) -> R:
        """Commit ``work``; return its result once durable and its events handled."""
        pending = self._enqueue(work)
        result: R = await pending.future
        # A handler committing must not wait for the dispatch it is part of.
        if pending.dispatched is not None and not self._bus.in_handler():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(pending.dispatched)
        return result

    def each(self, items: Sequence[T], fn: Callable[[T], R]) -> list[R | Exception]:
        """Inside a work: ``fn`` on each item in its own savepoint, one outcome per item (its
        result, or the exception it raised, which undoes that item only). A storage error
        (disk full) is not one item's: it fails the whole work, as in the group commit."""
        outcomes: list[R | Exception] = []
        for item in items:
            try:
                with self.database.atomic():
                    outcomes.append(fn(item))
            except sqlite3.OperationalError:
                raise
            except Exception as exc:  # noqa: BLE001 - that item's outcome, handed back
                outcomes.append(exc)
        return outcomes

    async def commit_deferred(self, work: Work[R]) -> tuple[R, asyncio.Future[None] | None]:
        """Commit ``work``; return once durable, with the future of its events' reactions
        (None if nothing reacts), which the caller awaits when it chooses: a batch's
        reactions then run while the caller prepares the next batch."""
        pending = self._enqueue(work)
        result: R = await pending.future
        return result, pending.dispatched

    def _enqueue(self, work: Work[R]) -> _Pending:
        pending = _Pending(work, asyncio.get_running_loop().create_future())
        self._pending.append(pending)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        return pending

    async def record(self, events: Sequence[DomainEvent]) -> None:
        """Commit events that change no other state."""
        await self.commit(lambda: (None, events))

    async def _flush(self) -> None:
        while self._pending:
            group, self._pending = self._pending[:MAX_GROUP], self._pending[MAX_GROUP:]
            try:
                outcomes = await self.runner.run(self._commit_group, group)
                self.write_problem = None
            except BaseException as exc:  # the transaction itself failed: nobody's work stuck
                if isinstance(exc, sqlite3.Error):
                    self.write_problem = f"the database cannot be written: {exc}"
                    _LOGGER.error("%s", self.write_problem)  # noqa: TRY400 - known cause
                for item in group:
                    if not item.future.done():
                        item.future.set_exception(exc)
                if isinstance(exc, asyncio.CancelledError):
                    raise
                continue
            for item, (ok, value) in zip(group, outcomes, strict=True):
                if ok and item.events:
                    # Committed: the reactions run whether or not the caller still waits.
                    item.dispatched = self._bus.emit(item.events)
                if item.future.done():
                    continue  # the caller went away (cancelled); its change is committed anyway
                if ok:
                    item.future.set_result(value)
                else:
                    item.future.set_exception(value)
            self.outbox_wakeup.set()

    def _commit_group(self, group: list[_Pending]) -> list[tuple[bool, Any]]:
        outcomes: list[tuple[bool, Any]] = []
        with self.database.atomic():
            for item in group:
                try:
                    with self.database.atomic():  # a savepoint per work
                        result, events = item.work()
                        self.outbox.append([e for e in events if isinstance(e, DomainEvent)])
                    item.events = events
                    outcomes.append((True, result))
                except sqlite3.OperationalError:
                    raise  # the disk, not this work: fail the whole group, write nothing
                except Exception as exc:  # noqa: BLE001 - handed to that work's caller
                    outcomes.append((False, exc))
        return outcomes
