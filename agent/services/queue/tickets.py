"""Tickets and their transitions: joins, leaving, "a few more minutes", and the staff's calls.

Each queue has a lock. Under it a transition is decided on the in-memory book, applied, and
submitted for commit (so commits happen in decision order); the caller gets its answer only
once the commit is durable. If a commit fails, the queue's state is reloaded from the database
so memory never claims what the disk does not hold.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from agent.core.events import DomainEvent, QueuePrioritised
from agent.core.ports import Clock
from agent.core.queue import LeftReason, QueueRuleError, Source, Ticket, TicketState
from agent.metrics import Metrics
from agent.services.queue.announce import Announcer
from agent.services.queue.state import QueueRegistry, QueueState, track_accuracy
from agent.services.queue.window import WindowAccess
from agent.store.push import PushSubscriptions
from agent.store.tickets import TicketRepository
from agent.store.unit_of_work import UnitOfWork

_LOGGER = logging.getLogger(__name__)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class JoinRequest:
    window_token: str
    name: str = ""
    party_size: int = 1
    locale: str = "en"
    phone: str | None = None
    # Extension: the customer's loyalty pass (as the brand's app passes it in the join link);
    # kept only as the customer id, and only if that customer consented to recognition.
    customer_pass: str | None = None
    # Contract 8.7: staff add a walk-in (no window token: a person at the counter).
    source: Source = Source.WINDOW


def check_counter(q: QueueState, counter: str | None) -> None:
    """Contract 8.7: a queue with counters takes only their names (or none)."""
    if counter is not None and q.config.counters and counter not in q.config.counters:
        raise QueueRuleError("unknown_counter")


class QueueUnavailable(QueueRuleError):
    """Joining is refused: `window_token_expired`, `closed` or `queue_full`."""


_Decide = Callable[[QueueState, Ticket, datetime], tuple[Ticket, list[DomainEvent]]]
# A committed change: the ticket the caller asked about, and others it made "almost your
# turn" (flagged in the same transaction).
_Change = tuple[Ticket, tuple[Ticket, ...]]


class TicketDesk:
    def __init__(
        self,
        registry: QueueRegistry,
        uow: UnitOfWork,
        tickets: TicketRepository,
        window: WindowAccess,
        announcer: Announcer,
        clock: Clock,
        metrics: Metrics,
        identify_pass: Callable[[str], str | None] | None,
        subscriptions: PushSubscriptions,
        tier_priority: Callable[[str], str | None] | None = None,
    ) -> None:
        self._registry = registry
        self._tier_priority = tier_priority
        self._subscriptions = subscriptions
        self._uow = uow
        self._tickets = tickets
        self._window = window
        self._announcer = announcer
        self._clock = clock
        self._metrics = metrics
        self._identify_pass = identify_pass

    async def ticket(self, ticket_id: str) -> Ticket | None:
        """An active ticket from memory, any other from the store."""
        found = self._registry.active(ticket_id)
        if found is not None:
            return found
        return await self._uow.read(self._tickets.get, ticket_id)

    # --- customer transitions --------------------------------------------------------------

    async def join(self, queue: str, request: JoinRequest) -> tuple[Ticket, str]:
        q = self._registry.get(queue)
        now = self._clock.now()
        walk_in = request.source == Source.STAFF
        # A walk-in is someone standing at the counter, so staff need neither a window code
        # nor opening hours: the store is evidently open for them.
        if not walk_in and not self._window.token_valid(queue, request.window_token):
            self._metrics.joins_refused.labels(queue=queue, reason="window_token").inc()
            raise QueueUnavailable("window_token_expired")
        if not walk_in and not self._registry.is_open():
            self._metrics.joins_refused.labels(queue=queue, reason="closed").inc()
            raise QueueUnavailable("closed")
        secret = secrets.token_urlsafe(24)
        customer_id = None
        if request.customer_pass and self._identify_pass is not None:
            customer_id = self._identify_pass(request.customer_pass)
            if customer_id is None:  # expired, forged or not consented: join without the link
                self._metrics.readings_dropped.labels(kind="join_pass").inc()
        priority = None
        if customer_id is not None and self._tier_priority is not None:
            priority = self._tier_priority(customer_id)
        async with q.lock:
            if q.book.waiting_count() >= q.config.max_waiting:
                self._metrics.joins_refused.labels(queue=queue, reason="full").inc()
                raise QueueUnavailable("queue_full")
            predicted = self._registry.estimate(q, q.book.waiting_count())
            day = self._registry.local_day(now)
            draft = Ticket(
                id=secrets.token_urlsafe(9),
                queue=queue,
                number=0,
                state=TicketState.WAITING,
                sort_key=q.book.next_sort_key(),
                created_at=now,
                secret_hash=hash_secret(secret),
                name=request.name,
                party_size=request.party_size,
                locale=request.locale,
                phone=request.phone,
                predicted_low_s=predicted.low_s,
                predicted_high_s=predicted.high_s,
                customer_id=customer_id,
                source=request.source,
                priority=priority,
            )
            if priority is not None:  # ahead of those who joined within its credit
                draft = replace(draft, sort_key=q.book.place(draft))
                ahead = sum(1 for t in q.book.waiting() if t.sort_key < draft.sort_key)
                predicted = self._registry.estimate(q, ahead)
                draft = replace(
                    draft, predicted_low_s=predicted.low_s, predicted_high_s=predicted.high_s
                )

            def work() -> tuple[_Change, Sequence[DomainEvent]]:
                ticket = replace(draft, number=self._tickets.next_number(queue, day))
                self._tickets.save(ticket)
                joined, events = q.book.join(ticket)
                if priority is not None:
                    events.append(
                        QueuePrioritised(queue, ticket.id, ticket.number, priority, None, "tier")
                    )
                return (joined, ()), events

            committed = self._uow.submit(work)
        ticket = await self._settle(q, committed)
        self._registry.where[ticket.id] = queue
        self._metrics.joins.labels(queue=queue).inc()
        # Joins settle outside the lock (see QueueBook.next_sort_key), so whether the
        # newcomer is already "almost their turn" is decided once it is in the book: in a
        # short queue only, so the extra commit is rare.
        near = q.book.waiting_count() <= q.config.notify_position
        if near or q.config.notify_eta_s or priority is not None:
            ticket = await self.announce_approaching(q.config.id, ticket.id) or ticket
        self._announcer.changed(q)
        return ticket, secret

    async def announce_approaching(self, queue: str, ticket_id: str | None = None) -> Ticket | None:
        """Flag and announce the tickets that are now "almost your turn" (after a join, and
        on the timer for the estimate rule, which moves with time). Returns ``ticket_id``'s
        ticket as it is afterwards, if it is still waiting."""
        q = self._registry.get(queue)
        async with q.lock:
            flagged, events = q.book.approaching(
                self._clock.now(), q.config.notify_position, self._eta_rule(q)
            )
            if flagged:

                def work() -> tuple[_Change, Sequence[DomainEvent]]:
                    for ticket in flagged:
                        self._tickets.save(ticket)
                    return (flagged[0], tuple(flagged[1:])), events

                await self._settle(q, self._uow.submit(work))
        if flagged and ticket_id is None:
            self._announcer.changed(q)
        return None if ticket_id is None else q.book.get(ticket_id)

    async def leave(self, ticket_id: str, reason: LeftReason = LeftReason.CUSTOMER) -> Ticket:
        return await self.transition(ticket_id, lambda q, t, now: q.book.leave(t, now, reason))

    async def snooze(self, ticket: Ticket) -> Ticket:
        return await self.transition(
            ticket.id, lambda q, t, _now: q.book.snooze(t, q.config.snooze_places)
        )

    # --- staff transitions -----------------------------------------------------------------

    async def call_next(self, queue: str, device: str | None, counter: str | None = None) -> Ticket:
        q = self._registry.get(queue)
        check_counter(q, counter)
        # The lock is held until the commit is applied: two tablets pressing "call next" at
        # once must call two tickets, not the same one twice (the book changes only after
        # the commit, and the second decision must see the first).
        async with q.lock:
            now = self._clock.now()
            ticket, events = q.book.call_next(now, device, counter)
            called = await self._settle(q, self._submit(q, ticket, events))
        self.called(q, called)
        return called

    def called(self, q: QueueState, called: Ticket) -> None:
        """After a call: the estimator and the accuracy tracker learn, tablets are told."""
        q.estimator.record_call(self._clock.monotonic(), backlog=q.book.waiting_count() > 0)
        track_accuracy(q.accuracy, called)
        self._announcer.changed(q)

    async def served(self, ticket_id: str) -> Ticket:
        done = await self.transition(ticket_id, lambda q, t, now: q.book.served(t, now))
        if done.called_at and done.ended_at:
            q = self._registry.get(done.queue)
            q.estimator.record_service((done.ended_at - done.called_at).total_seconds())
        return done

    async def no_show(self, ticket_id: str, *, by_staff: bool = True) -> Ticket:
        gone = await self.transition(
            ticket_id, lambda q, t, now: q.book.no_show(t, now, by_staff=by_staff)
        )
        if gone.called_at and gone.ended_at:
            q = self._registry.get(gone.queue)
            q.estimator.record_no_show((gone.ended_at - gone.called_at).total_seconds())
        return gone

    async def recall(self, ticket_id: str) -> Ticket:
        ticket = await self.ticket(ticket_id)
        if ticket is not None and ticket.state == TicketState.NO_SHOW:
            # A no-show is no longer in the book: bring it back, then call it again.
            q = self._registry.get(ticket.queue)
            async with q.lock:
                again, events = q.book.recall(ticket, self._clock.now())
                result = await self._settle(q, self._submit(q, again, events))
            self._registry.where[result.id] = result.queue
            self._announcer.changed(q)
            return result
        return await self.transition(ticket_id, lambda q, t, now: q.book.recall(t, now))

    # --- the one way a ticket changes --------------------------------------------------------

    async def transition(self, ticket_id: str, decide: _Decide) -> Ticket:
        queue = self._registry.where.get(ticket_id)
        if queue is None:
            if await self.ticket(ticket_id) is None:
                raise LookupError(ticket_id)
            raise QueueRuleError("not_active")
        q = self._registry.queues[queue]
        async with q.lock:
            ticket = q.book.get(ticket_id)
            if ticket is None:
                raise QueueRuleError("not_active")
            updated, events = decide(q, ticket, self._clock.now())
            # Held until applied, as in call_next: concurrent changes to one ticket (served
            # and no-show from two tablets) are decided one after the other.
            result = await self._settle(q, self._submit(q, updated, events))
        if not result.active:
            self._registry.where.pop(result.id, None)
        self._announcer.changed(q)
        return result

    async def settle(self, q: QueueState, committed: asyncio.Future[_Change]) -> Ticket:
        """Apply a change committed by another module of the service (an appointment's
        ticket); the caller holds ``q.lock``."""
        return await self._settle(q, committed)

    async def commit(self, q: QueueState, ticket: Ticket, events: list[DomainEvent]) -> Ticket:
        """Commit a decided ticket and apply it; the caller holds ``q.lock``."""
        return await self._settle(q, self._submit(q, ticket, events))

    def _submit(
        self, q: QueueState, ticket: Ticket, events: list[DomainEvent]
    ) -> asyncio.Future[_Change]:
        """Commit a decided ticket with what it causes: the tickets it makes "almost your
        turn" (in the same transaction, so none is told twice or never), and, when it ends,
        the deletion of its push subscription."""
        flagged, told = q.book.approaching(
            self._clock.now(), q.config.notify_position, self._eta_rule(q), changed=(ticket,)
        )
        own = next((t for t in flagged if t.id == ticket.id), ticket)
        others = tuple(t for t in flagged if t.id != ticket.id)

        def work() -> tuple[_Change, Sequence[DomainEvent]]:
            self._tickets.save(own)
            for other in others:
                self._tickets.save(other)
            if not own.active:
                self._subscriptions.delete(own.id)
            return (own, others), [*events, *told]

        return self._uow.submit(work)

    def _eta_rule(self, q: QueueState) -> Callable[[int], bool] | None:
        limit = q.config.notify_eta_s
        if limit is None:
            return None
        return lambda ahead: self._registry.estimate(q, ahead).low_s <= limit

    async def _settle(self, q: QueueState, committed: asyncio.Future[_Change]) -> Ticket:
        try:
            ticket, others = await committed
        except Exception:
            self._metrics.storage_errors.inc()
            with contextlib.suppress(Exception):  # reading may fail too; memory stays as is
                await self._registry.reload(q)
            raise
        q.book.apply(ticket)
        for other in others:
            q.book.apply(other)
        return ticket
