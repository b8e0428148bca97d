"""What time does to a queue: called customers who do not come are flagged, then become
no-shows; waiting tickets whose estimated wait fell to `notify_eta_s` are told it is almost
their turn; ended tickets are anonymised, then deleted, after their retention periods (and
any push subscription left behind goes)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import timedelta

from agent.config.model import StorageConfig
from agent.core.events import DomainEvent
from agent.core.ports import Clock
from agent.core.queue import QueueRuleError, entry_calls
from agent.services.queue.actions import StaffActions
from agent.services.queue.announce import Announcer
from agent.services.queue.state import QueueRegistry
from agent.services.queue.tickets import TicketDesk
from agent.store.push import PushSubscriptions
from agent.store.tickets import TicketRepository
from agent.store.unit_of_work import UnitOfWork

_LOGGER = logging.getLogger(__name__)
ENTRY_DEVICE = "entry"  # `called_by` of a ticket the agent called itself (entry queue)


class QueueTimers:
    def __init__(
        self,
        registry: QueueRegistry,
        desk: TicketDesk,
        actions: StaffActions,
        announcer: Announcer,
        uow: UnitOfWork,
        tickets: TicketRepository,
        subscriptions: PushSubscriptions,
        clock: Clock,
        storage: StorageConfig,
        *,
        capacity: int | None = None,
        inside: Callable[[], int] | None = None,
    ) -> None:
        self._capacity = capacity
        self._inside = inside
        self._entry_lock = asyncio.Lock()
        self._subscriptions = subscriptions
        self._registry = registry
        self._desk = desk
        self._actions = actions
        self._announcer = announcer
        self._uow = uow
        self._tickets = tickets
        self._clock = clock
        self._storage = storage
        # queue -> its called tickets found late at the last pass: replaced each pass, so a
        # late ticket that was served or became a no-show is not remembered for ever.
        self._flagged_late: dict[str, set[str]] = {}

    async def expire_overdue_calls(self) -> int:
        """Called tickets past `grace_s` are flagged to staff (pushed once); past
        `auto_no_show_s` they become no-shows. Tickets whose holder walked out go."""
        await self._actions.walk_out_overdue()
        await self.call_entries()
        expired = 0
        now = self._clock.now()
        for q in self._registry.queues.values():
            if q.config.notify_eta_s is not None:  # estimates move with time, not only on change
                await self._desk.announce_approaching(q.config.id)
            late = {
                t.id
                for t in q.book.called()
                if (since := t.grace_started_at())
                and (now - since).total_seconds() > q.config.grace_s
            }
            if late - self._flagged_late.get(q.config.id, set()):
                self._announcer.changed(q)  # tablets learn that someone became late
            self._flagged_late[q.config.id] = late
            limit = q.config.auto_no_show_s
            if limit <= 0:
                continue
            for ticket in q.book.called():
                since = ticket.grace_started_at()
                if since and (now - since).total_seconds() > limit:
                    try:
                        await self._desk.no_show(ticket.id, by_staff=False)
                        expired += 1
                    except QueueRuleError:
                        continue  # staff acted on it meanwhile
        return expired

    async def call_entries(self) -> int:
        """Entry queues (`entry = true`) call their next tickets while the store is below
        `[occupancy] capacity` (agent.core.queue.entry_calls), never above it."""
        if self._capacity is None or self._inside is None:
            return 0
        entry = [q for q in self._registry.queues.values() if q.config.entry]
        done = 0
        # One pass at a time (the timer, or a test calling it too): two passes deciding on
        # the same count could together call the store above capacity.
        async with self._entry_lock:
            for q in entry:
                while entry_calls(
                    self._capacity,
                    self._inside(),
                    sum(len(e.book.called()) for e in entry),
                    q.book.waiting_count(),
                ):
                    try:
                        await self._desk.call_next(q.config.id, ENTRY_DEVICE)
                    except QueueRuleError:
                        break  # nobody left waiting (someone left meanwhile)
                    done += 1
        return done

    async def purge(self) -> int:
        now = self._clock.now()
        storage = self._storage

        def work() -> tuple[int, list[DomainEvent]]:
            self._subscriptions.purge()
            deleted = self._tickets.purge(
                ended_before=now - timedelta(days=storage.ticket_retention_days),
                anonymise_before=now - timedelta(hours=storage.ticket_name_retention_h),
            )
            return deleted, []

        return await self._uow.commit(work)
