"""The virtual queue as a service: decisions from the core, durability from the store,
live updates through the hub.

Each queue has a lock. Under it a transition is decided on the in-memory book, applied, and
submitted for commit (so commits happen in decision order); the caller gets its answer only
once the commit is durable. If a commit fails, the queue's state is reloaded from the database
so memory never claims what the disk does not hold.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from agent.config.model import AgentConfig, QueueConfig
from agent.core.clock import rfc3339
from agent.core.estimate import AccuracyTracker, WaitEstimator, WaitRange
from agent.core.events import DomainEvent
from agent.core.hours import is_open
from agent.core.ports import Clock
from agent.core.queue import QueueBook, QueueRuleError, Ticket, TicketState
from agent.core.ticket_codes import ticket_code, ticket_from_code
from agent.core.window_token import WindowTokens
from agent.metrics import Metrics
from agent.services.hub import STAFF_TOPIC, Hub, queue_topic
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


class QueueUnavailable(QueueRuleError):
    """Joining is refused for a reason the customer should read (closed, full, expired)."""


@dataclass
class _Queue:
    config: QueueConfig
    book: QueueBook
    estimator: WaitEstimator
    accuracy: AccuracyTracker
    lock: asyncio.Lock


_Decide = Callable[[_Queue, Ticket, datetime], tuple[Ticket, list[DomainEvent]]]


class QueueService:
    def __init__(
        self,
        config: AgentConfig,
        uow: UnitOfWork,
        tickets: TicketRepository,
        tokens: WindowTokens,
        clock: Clock,
        metrics: Metrics,
        hub: Hub,
        *,
        static_generation: Callable[[str], int],
        ticket_key: bytes,
        identify_pass: Callable[[str], str | None] | None = None,
    ) -> None:
        self._config = config
        self._uow = uow
        self._tickets = tickets
        self.tokens = tokens
        self._clock = clock
        self._metrics = metrics
        self._hub = hub
        self._static_generation = static_generation
        self._zone = ZoneInfo(config.store.timezone)
        self._queues: dict[str, _Queue] = {}
        self._where: dict[str, str] = {}  # active ticket id -> queue id
        self._flagged_late: set[str] = set()
        self._ticket_key = ticket_key
        self._identify_pass = identify_pass

    # --- start-up --------------------------------------------------------------------------

    async def load(self) -> None:
        active = await self._uow.read(self._tickets.active)
        for qc in self._config.queues:
            estimator = WaitEstimator(qc.default_service_s, qc.servers)
            accuracy = AccuracyTracker()
            for t in await self._uow.read(self._tickets.recent_served, qc.id, 30):
                if t.called_at and t.ended_at:
                    estimator.record_service((t.ended_at - t.called_at).total_seconds())
            for t in await self._uow.read(self._tickets.recent_called, qc.id, 200):
                self._track_accuracy(accuracy, t)
            book = QueueBook(qc.id, [t for t in active if t.queue == qc.id])
            self._queues[qc.id] = _Queue(qc, book, estimator, accuracy, asyncio.Lock())
        self._where = {t.id: t.queue for t in active if t.queue in self._queues}
        self._refresh_metrics()

    # --- reading ---------------------------------------------------------------------------

    def queue_ids(self) -> list[str]:
        return list(self._queues)

    def queue_config(self, queue: str) -> QueueConfig:
        return self._queue(queue).config

    def static_token(self, queue: str) -> str:
        """The long-lived token printed on a queue's window sticker."""
        return self.tokens.static(queue, self._static_generation(queue))

    def window_token(self, queue: str) -> str:
        """What the window shows now: the sticker's token or the current rotating one."""
        if self.queue_config(queue).printed_sticker:
            return self.static_token(queue)
        return self.tokens.rotating(queue, self._clock.now().timestamp())

    def token_valid(self, queue: str, token: str) -> bool:
        return self.tokens.verify(
            queue,
            token,
            unix_time=self._clock.now().timestamp(),
            mode=self.queue_config(queue).window_token,
            generation=self._static_generation(queue),
        )

    def form_token(self, queue: str) -> str:
        return self.tokens.form(queue, self._clock.now().timestamp())

    async def ticket(self, ticket_id: str) -> Ticket | None:
        queue = self._where.get(ticket_id)
        if queue is not None:
            found = self._queues[queue].book.get(ticket_id)
            if found is not None:
                return found
        return await self._uow.read(self._tickets.get, ticket_id)

    @staticmethod
    def secret_matches(ticket: Ticket, secret: str) -> bool:
        return hmac.compare_digest(ticket.secret_hash, hash_secret(secret))

    def is_open(self) -> bool:
        return is_open(self._config.opening_hours.days, self._clock.now().astimezone(self._zone))

    def estimate_for_newcomer(self, queue: str) -> WaitRange:
        q = self._queue(queue)
        return self._estimate(q, q.book.waiting_count())

    def view(self, ticket: Ticket) -> dict[str, object]:
        """The contract's Ticket object (plus name, party size and whether it was snoozed)."""
        q = self._queues.get(ticket.queue)
        position = 0
        eta = WaitRange(0, 0)
        if q is not None and ticket.state == TicketState.WAITING:
            position = q.book.position(ticket.id) or 0
            eta = self._estimate(q, max(0, position - 1))
        return {
            "id": ticket.id,
            "queue": ticket.queue,
            "number": ticket.number,
            "state": ticket.state.value,
            "position": position,
            "eta": eta.as_json(),
            "created_at": _iso(ticket.created_at),
            "called_at": _iso(ticket.called_at),
            "name": ticket.name,
            "party_size": ticket.party_size,
            "snoozed": ticket.snoozed,
            "recalls": ticket.recalls,  # a recall changes the view, so phones alert again
        }

    def staff_view(self, ticket: Ticket) -> dict[str, object]:
        q = self._queue(ticket.queue)
        now = self._clock.now()
        view = self.view(ticket)
        view["waited_s"] = int((now - ticket.created_at).total_seconds())
        grace_from = ticket.grace_started_at()
        view["late"] = bool(
            ticket.state == TicketState.CALLED
            and grace_from
            and (now - grace_from).total_seconds() > q.config.grace_s
        )
        view["at_door"] = ticket.checked_in_at is not None
        return view

    def ticket_code(self, ticket: Ticket) -> str:
        """What the QR code on the customer's ticket page says (agent.core.ticket_codes)."""
        return ticket_code(self._ticket_key, ticket.id)

    def queue_view(self, queue: str) -> dict[str, object]:
        q = self._queue(queue)
        return {
            "queue": queue,
            "label": q.config.label,
            "waiting": [self.staff_view(t) for t in q.book.waiting()],
            "called": [self.staff_view(t) for t in q.book.called()],
            "accuracy": {
                "tickets": q.accuracy.count,
                "mean_abs_error_s": q.accuracy.mean_absolute_error_s(),
                "underestimate_share": q.accuracy.underestimate_share(),
            },
        }

    def summary(self, queue: str) -> dict[str, object]:
        """What anyone may see: label, people waiting, the wait range for a newcomer."""
        q = self._queue(queue)
        waiting = q.book.waiting_count()
        return {
            "queue": queue,
            "label": q.config.label,
            "waiting": waiting,
            "eta": self._estimate(q, waiting).as_json(),
            "open": self.is_open(),
            "full": waiting >= q.config.max_waiting,
        }

    # --- customer transitions --------------------------------------------------------------

    async def join(self, queue: str, request: JoinRequest, client: str) -> tuple[Ticket, str]:
        q = self._queue(queue)
        now = self._clock.now()
        if not self.token_valid(queue, request.window_token):
            self._metrics.joins_refused.labels(queue=queue, reason="window_token").inc()
            raise QueueUnavailable(
                "window_token_expired",
                "This code has expired. Please scan the code in the shop window again.",
            )
        if not self.is_open():
            self._metrics.joins_refused.labels(queue=queue, reason="closed").inc()
            raise QueueUnavailable(
                "closed", "The store is closed right now, so the queue is not open. See you soon!"
            )
        secret = secrets.token_urlsafe(24)
        customer_id = None
        if request.customer_pass and self._identify_pass is not None:
            customer_id = self._identify_pass(request.customer_pass)
            if customer_id is None:  # expired, forged or not consented: join without the link
                self._metrics.readings_dropped.labels(kind="join_pass").inc()
        async with q.lock:
            if q.book.waiting_count() >= q.config.max_waiting:
                self._metrics.joins_refused.labels(queue=queue, reason="full").inc()
                raise QueueUnavailable(
                    "queue_full", "The queue is full right now. Please try again a little later."
                )
            predicted = self._estimate(q, q.book.waiting_count())
            day = now.astimezone(self._zone).date().isoformat()
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
            )

            def work() -> tuple[Ticket, Sequence[DomainEvent]]:
                ticket = replace(draft, number=self._tickets.next_number(queue, day))
                self._tickets.save(ticket)
                return q.book.join(ticket)

            committed = self._uow.submit(work)
        ticket = await self._settle(q, committed)
        self._where[ticket.id] = queue
        self._metrics.joins.labels(queue=queue).inc()
        self._changed(q)
        return ticket, secret

    async def leave(self, ticket: Ticket) -> Ticket:
        return await self._transition(ticket.id, lambda q, t, now: q.book.leave(t, now))

    async def snooze(self, ticket: Ticket) -> Ticket:
        return await self._transition(
            ticket.id, lambda q, t, _now: q.book.snooze(t, q.config.snooze_places)
        )

    # --- check-in at the door ------------------------------------------------------------

    async def check_in_code(self, payload: str) -> bool:
        """A ticket QR code read by a counter camera; False if it is not a live ticket's."""
        ticket_id = ticket_from_code(self._ticket_key, payload)
        if ticket_id is None or ticket_id not in self._where:
            return False
        try:
            await self._check_in(ticket_id, "ticket_qr")
        except QueueRuleError:
            return False
        return True

    async def check_in_customer(self, customer_id: str, via: str) -> int:
        """A recognised customer at the door: check in every live ticket they joined with."""
        held = [
            t.id
            for q in self._queues.values()
            for t in q.book.waiting() + q.book.called()
            if t.customer_id == customer_id
        ]
        done = 0
        for ticket_id in held:
            with contextlib.suppress(QueueRuleError, LookupError):
                await self._check_in(ticket_id, via)
                done += 1
        return done

    def unlink_customer(self, customer_id: str) -> None:
        """Revoke, erase or consent withdrawn (after the commit that cleared the stored
        links): live tickets keep their place but lose the link, in memory too."""
        for q in self._queues.values():
            for ticket in q.book.waiting() + q.book.called():
                if ticket.customer_id == customer_id:
                    q.book.apply(replace(ticket, customer_id=None))

    async def _check_in(self, ticket_id: str, via: str) -> Ticket:
        ticket = await self._transition(ticket_id, lambda q, t, now: q.book.check_in(t, now, via))
        self._metrics.ticket_checkins.labels(via=via).inc()
        return ticket

    # --- staff transitions -----------------------------------------------------------------

    async def call_next(self, queue: str, device: str | None) -> Ticket:
        q = self._queue(queue)
        # The lock is held until the commit is applied: two tablets pressing "call next" at
        # once must call two tickets, not the same one twice (the book changes only after
        # the commit, and the second decision must see the first).
        async with q.lock:
            now = self._clock.now()
            ticket, events = q.book.call_next(now, device)
            called = await self._settle(q, self._submit(q, ticket, events))
        q.estimator.record_call(self._clock.monotonic(), backlog=q.book.waiting_count() > 0)
        self._track_accuracy(q.accuracy, called)
        self._changed(q)
        return called

    async def served(self, ticket_id: str) -> Ticket:
        done = await self._transition(ticket_id, lambda q, t, now: q.book.served(t, now))
        if done.called_at and done.ended_at:
            q = self._queue(done.queue)
            q.estimator.record_service((done.ended_at - done.called_at).total_seconds())
        return done

    async def no_show(self, ticket_id: str) -> Ticket:
        gone = await self._transition(ticket_id, lambda q, t, now: q.book.no_show(t, now))
        if gone.called_at and gone.ended_at:
            q = self._queue(gone.queue)
            q.estimator.record_no_show((gone.ended_at - gone.called_at).total_seconds())
        return gone

    async def recall(self, ticket_id: str) -> Ticket:
        ticket = await self.ticket(ticket_id)
        if ticket is not None and ticket.state == TicketState.NO_SHOW:
            # A no-show is no longer in the book: bring it back, then call it again.
            q = self._queue(ticket.queue)
            async with q.lock:
                again, events = q.book.recall(ticket, self._clock.now())
                result = await self._settle(q, self._submit(q, again, events))
            self._where[result.id] = result.queue
            self._changed(q)
            return result
        return await self._transition(ticket_id, lambda q, t, now: q.book.recall(t, now))

    async def expire_overdue_calls(self) -> int:
        """Called tickets past `grace_s` are flagged to staff (pushed once); past
        `auto_no_show_s` they become no-shows."""
        expired = 0
        now = self._clock.now()
        for q in self._queues.values():
            late = {
                t.id
                for t in q.book.called()
                if (since := t.grace_started_at())
                and (now - since).total_seconds() > q.config.grace_s
            }
            if late - self._flagged_late:
                self._changed(q)  # tablets learn that someone became late
            self._flagged_late = (self._flagged_late - {t.id for t in q.book.called()}) | late
            limit = q.config.auto_no_show_s
            if limit <= 0:
                continue
            for ticket in q.book.called():
                since = ticket.grace_started_at()
                if since and (now - since).total_seconds() > limit:
                    try:
                        await self.no_show(ticket.id)
                        expired += 1
                    except QueueRuleError:
                        continue  # staff acted on it meanwhile
        return expired

    async def purge(self) -> int:
        now = self._clock.now()
        storage = self._config.storage
        return await self._uow.commit(
            lambda: (
                self._tickets.purge(
                    ended_before=now - timedelta(days=storage.ticket_retention_days),
                    anonymise_before=now - timedelta(hours=storage.ticket_name_retention_h),
                ),
                [],
            )
        )

    # --- internals -------------------------------------------------------------------------

    async def _transition(self, ticket_id: str, decide: _Decide) -> Ticket:
        queue = self._where.get(ticket_id)
        if queue is None:
            ticket = await self.ticket(ticket_id)
            if ticket is None:
                raise LookupError(ticket_id)
            raise QueueRuleError("not_active", "This ticket is no longer in the queue.")
        q = self._queues[queue]
        async with q.lock:
            ticket = q.book.get(ticket_id)
            if ticket is None:
                raise QueueRuleError("not_active", "This ticket is no longer in the queue.")
            updated, events = decide(q, ticket, self._clock.now())
            # Held until applied, as in call_next: concurrent changes to one ticket (served
            # and no-show from two tablets) are decided one after the other.
            result = await self._settle(q, self._submit(q, updated, events))
        if not result.active:
            self._where.pop(result.id, None)
        self._changed(q)
        return result

    def _submit(
        self, q: _Queue, ticket: Ticket, events: list[DomainEvent]
    ) -> asyncio.Future[Ticket]:
        def work() -> tuple[Ticket, Sequence[DomainEvent]]:
            self._tickets.save(ticket)
            return ticket, events

        return self._uow.submit(work)

    async def _settle(self, q: _Queue, committed: asyncio.Future[Ticket]) -> Ticket:
        try:
            ticket = await committed
        except Exception:
            self._metrics.storage_errors.inc()
            with contextlib.suppress(Exception):  # reading may fail too; memory stays as is
                await self._reload(q)
            raise
        q.book.apply(ticket)
        return ticket

    async def _reload(self, q: _Queue) -> None:
        active = await self._uow.read(self._tickets.active)
        q.book = QueueBook(q.config.id, [t for t in active if t.queue == q.config.id])

    def _estimate(self, q: _Queue, ahead: int) -> WaitRange:
        now = self._clock.now()
        elapsed = [(now - t.called_at).total_seconds() for t in q.book.called() if t.called_at]
        return q.estimator.estimate(ahead, elapsed, self._clock.monotonic())

    @staticmethod
    def _track_accuracy(accuracy: AccuracyTracker, ticket: Ticket) -> None:
        if ticket.called_at is None or ticket.predicted_high_s is None:
            return
        actual = (ticket.called_at - ticket.created_at).total_seconds()
        predicted = WaitRange(int(ticket.predicted_low_s or 0), int(ticket.predicted_high_s))
        accuracy.record(predicted, actual)

    def _changed(self, q: _Queue) -> None:
        self._refresh_metrics()
        self._hub.publish(queue_topic(q.config.id), "changed", None)
        if self._hub.has_subscribers(STAFF_TOPIC):  # the full view is built only if watched
            self._hub.publish(STAFF_TOPIC, "queue", self.queue_view(q.config.id))

    def _refresh_metrics(self) -> None:
        for queue, q in self._queues.items():
            self._metrics.queue_waiting.labels(queue=queue).set(q.book.waiting_count())
            mae = q.accuracy.mean_absolute_error_s()
            share = q.accuracy.underestimate_share()
            if mae is not None and share is not None:
                self._metrics.wait_abs_error.labels(queue=queue).set(mae)
                self._metrics.wait_underestimates.labels(queue=queue).set(share)

    def _queue(self, queue: str) -> _Queue:
        try:
            return self._queues[queue]
        except KeyError:
            raise LookupError(queue) from None


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else rfc3339(moment)
