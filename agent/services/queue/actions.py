"""The staff's actions on one ticket (contract 8.7): call this ticket, move it to another
queue, undo the last served / no-show / left; and walkouts (a linked customer's visit ended).

Each is decided by the core under the queue's lock and committed with its event before the
lock is released, through the same `TicketDesk` as every other transition.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from datetime import datetime

from agent.core.events import DomainEvent
from agent.core.ports import Clock
from agent.core.queue import LeftReason, QueueRuleError, Ticket, TicketState, moved
from agent.metrics import Metrics
from agent.services.queue.announce import Announcer
from agent.services.queue.state import QueueRegistry, QueueState
from agent.services.queue.tickets import TicketDesk, check_counter
from agent.store.tickets import TicketRepository
from agent.store.unit_of_work import UnitOfWork

_LOGGER = logging.getLogger(__name__)


class StaffActions:
    def __init__(
        self,
        registry: QueueRegistry,
        desk: TicketDesk,
        uow: UnitOfWork,
        tickets: TicketRepository,
        announcer: Announcer,
        clock: Clock,
        metrics: Metrics,
    ) -> None:
        self._registry = registry
        self._desk = desk
        self._uow = uow
        self._tickets = tickets
        self._announcer = announcer
        self._clock = clock
        self._metrics = metrics

    async def call(self, ticket_id: str, device: str | None, counter: str | None) -> Ticket:
        """Call this waiting ticket (out of turn)."""

        def decide(q: QueueState, t: Ticket, now: datetime) -> tuple[Ticket, list[DomainEvent]]:
            check_counter(q, counter)
            return q.book.call(t, now, device, counter)

        called = await self._desk.transition(ticket_id, decide)
        self._desk.called(self._registry.get(called.queue), called)
        return called

    async def leave(self, ticket_id: str) -> Ticket:
        """Staff take a ticket out of the queue (undoable, unlike a customer's own leave)."""
        return await self._desk.leave(ticket_id, LeftReason.STAFF)

    async def undo(self, ticket_id: str) -> Ticket:
        """Revert the ticket's last staff transition, made less than 60 s ago."""
        known = await self._desk.ticket(ticket_id)
        if known is None:
            raise LookupError(ticket_id)
        q = self._registry.get(known.queue)
        async with q.lock:
            # Read again under the lock: two tablets undoing at once, or an undo racing a
            # recall, must not both restore the ticket (the second sees it live and is refused).
            current = self._registry.active(ticket_id) or await self._uow.read(
                self._tickets.get, ticket_id
            )
            if current is None:
                raise LookupError(ticket_id)
            restored, events = q.book.undo(current, self._clock.now())
            result = await self._desk.commit(q, restored, events)
        self._registry.where[result.id] = result.queue
        ended = current.state in (TicketState.SERVED, TicketState.NO_SHOW)
        if ended and current.called_at and current.ended_at:
            # Its time per call was learnt by the estimator; it was not one after all.
            q.estimator.forget((current.ended_at - current.called_at).total_seconds())
        self._announcer.changed(q)
        return result

    async def move(self, ticket_id: str, target: str) -> Ticket:
        """Move a waiting ticket to ``target``, keeping its join time; it takes the next
        number of the target queue (numbers are per queue: two "12"s must not be called)."""
        if target not in self._registry.queues:
            raise QueueRuleError("unknown_queue")
        source = self._registry.where.get(ticket_id)
        if source is None:
            if await self._desk.ticket(ticket_id) is None:
                raise LookupError(ticket_id)
            raise QueueRuleError("not_waiting")
        if source == target:
            raise QueueRuleError("same_queue")
        src, dst = self._registry.queues[source], self._registry.queues[target]
        # Both locks, always in the same order, so two opposite moves cannot deadlock.
        first, second = sorted((src, dst), key=lambda s: s.config.id)
        async with first.lock, second.lock:
            ticket = src.book.get(ticket_id)
            if ticket is None or ticket.state != TicketState.WAITING:
                raise QueueRuleError("not_waiting")
            if dst.book.waiting_count() >= dst.config.max_waiting:
                raise QueueRuleError("queue_full")
            placed = dst.book.admit(ticket)
            day = self._registry.local_day(self._clock.now())

            def work() -> tuple[Ticket, Sequence[DomainEvent]]:
                number = self._tickets.next_number(target, day)
                result, events = moved(placed, number, source, ticket.number)
                self._tickets.save(result)
                return result, events

            try:
                result = await self._uow.submit(work)
            except Exception:
                self._metrics.storage_errors.inc()
                with contextlib.suppress(Exception):
                    await self._registry.reload(src)
                    await self._registry.reload(dst)
                raise
            src.book.discard(ticket_id)
            dst.book.apply(result)
            self._registry.where[ticket_id] = target
        # Each queue's order changed: who is now "almost their turn" is decided on each.
        await self._desk.announce_approaching(source)
        after = await self._desk.announce_approaching(target, ticket_id) or result
        self._announcer.changed(src)
        self._announcer.changed(dst)
        return after

    # --- walkouts ----------------------------------------------------------------------------

    async def visit_left(self, customer_id: str) -> int:
        """A recognised customer's visit ended: their live tickets walk out after the
        queue's grace unless they are seen again first (a check-in clears it)."""
        held = [
            t.id
            for q in self._registry.queues.values()
            for t in q.book.waiting() + q.book.called()
            if t.customer_id == customer_id
        ]
        for ticket_id in held:
            with contextlib.suppress(QueueRuleError, LookupError):
                await self._desk.transition(
                    ticket_id,
                    lambda q, t, now: q.book.visit_ended(t, now, q.config.walkout_grace_s),
                )
        return len(held)

    async def walk_out_overdue(self) -> int:
        """Tickets whose walkout time passed become `left` with reason `walked_out` (never a
        no-show, and never a service time for the estimator)."""
        now = self._clock.now()
        done = 0
        for q in self._registry.queues.values():
            for ticket in q.book.walk_out_due(now):
                with contextlib.suppress(QueueRuleError, LookupError):
                    await self._desk.transition(ticket.id, _walk_out)
                    done += 1
        return done


def _walk_out(q: QueueState, ticket: Ticket, now: datetime) -> tuple[Ticket, list[DomainEvent]]:
    if ticket.walkout_at is None or ticket.walkout_at > now:
        raise QueueRuleError("not_due")  # seen again meanwhile
    return q.book.leave(ticket, now, LeftReason.WALKED_OUT)
