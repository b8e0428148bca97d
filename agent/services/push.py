"""Web Push to customers' phones: subscriptions kept with their tickets, and a push on
"almost your turn", on the call and on every recall (contract 8.6).

The queue events reach `approaching`, `called` and `recalled` through the message bus after
their commit; those only queue a job (bounded), so no staff action ever waits for a push
service. A worker task sends the jobs, a few at a time, through the `PushSender` port. An
attempt that may succeed later (push service unreachable, slow, 5xx, 429) is retried with
backoff while the ticket is still waiting or called, until `[push] retry_for_s`; a newer push
for the same ticket replaces an older one still retrying. Everything is counted in the
`retail_edge_push_*` metrics.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Literal

from agent.config.model import PushConfig
from agent.core.events import DomainEvent, QueueApproaching, QueueCalled, QueueRecalled
from agent.core.ports import Clock, PushSender
from agent.core.push import (
    EndpointPolicy,
    PushKind,
    PushMessage,
    Subscription,
    SubscriptionRefused,
    check_subscription,
)
from agent.core.queue import QueueRuleError, Ticket, TicketState
from agent.metrics import Metrics
from agent.store.push import PushSubscriptions
from agent.store.unit_of_work import UnitOfWork

_LOGGER = logging.getLogger(__name__)

# (kind, locale, number, queue label) -> (title, body), worded by the web layer's i18n.
PushWording = Callable[[PushKind, str, int, str], tuple[str, str]]
TicketLookup = Callable[[str], Awaitable[Ticket | None]]

QUEUE_SIZE = 1000
CONCURRENT_SENDS = 4
# How long a push service may hold the message for an offline phone: the call is stale
# once the customer counts as a no-show (default 600 s), "almost" a little later.
TTL_S: dict[PushKind, int] = {"approaching": 900, "called": 600, "recalled": 600}
URGENCY: dict[PushKind, Literal["normal", "high"]] = {
    "approaching": "normal",
    "called": "high",
    "recalled": "high",
}
# The ticket states in which each push still means something.
STILL_MEANT: dict[PushKind, tuple[TicketState, ...]] = {
    "approaching": (TicketState.WAITING,),
    "called": (TicketState.CALLED,),
    "recalled": (TicketState.CALLED,),
}


@dataclass(frozen=True, slots=True)
class _Job:
    kind: PushKind
    ticket_id: str
    number: int
    queued_at: float  # monotonic
    generation: int
    position: int | None = None
    recalls: int | None = None
    attempt: int = 0


class PushService:
    def __init__(
        self,
        uow: UnitOfWork,
        subscriptions: PushSubscriptions,
        sender: PushSender,
        lookup: TicketLookup,
        wording: PushWording,
        labels: Callable[[str], str],
        clock: Clock,
        metrics: Metrics,
        config: PushConfig,
        public_url: str,
        *,
        rng: random.Random | None = None,
        queue_size: int = QUEUE_SIZE,
    ) -> None:
        self._uow = uow
        self._subscriptions = subscriptions
        self._sender = sender
        self._lookup = lookup
        self._wording = wording
        self._labels = labels
        self._clock = clock
        self._metrics = metrics
        self._config = config
        self._policy = EndpointPolicy.of(config.endpoint_hosts)
        self._public_url = public_url.rstrip("/")
        self._rng = rng or random.Random()
        self._jobs: asyncio.Queue[_Job] = asyncio.Queue(maxsize=queue_size)
        self._slots = asyncio.Semaphore(CONCURRENT_SENDS)
        self._running: set[asyncio.Task[None]] = set()
        self._latest: dict[str, int] = {}  # ticket id -> generation of its newest push
        self._generation = 0
        # Tickets that have a subscription. Most tickets never subscribe, so a queue event of
        # theirs costs no job, task or store read (profiled in the fleet benchmark: two reads
        # per `queue.called` on the store thread otherwise). It may hold a ticket whose
        # subscription went (the job then finds none); it never lacks one that has one.
        self._subscribed: set[str] = set()

    async def load(self) -> None:
        self._subscribed = await self._uow.read(self._subscriptions.ticket_ids)

    @property
    def public_key(self) -> str:
        return self._sender.public_key

    # --- subscriptions ---------------------------------------------------------------------

    async def subscribe(self, ticket: Ticket, endpoint: str, p256dh: str, auth: str) -> None:
        """Keep the phone's subscription with its live ticket (a new one replaces the old).
        Raises SubscriptionRefused (endpoint not allowed, malformed keys) or QueueRuleError
        `not_active`."""
        if not ticket.active:
            raise QueueRuleError("not_active")
        try:
            subscription = check_subscription(self._policy, endpoint, p256dh, auth)
        except SubscriptionRefused as exc:
            self._metrics.push_subscriptions_refused.labels(reason=exc.code).inc()
            raise
        now = self._clock.now()

        def work() -> tuple[None, list[DomainEvent]]:
            self._subscriptions.save(ticket.id, subscription, now)
            return None, []

        await self._uow.commit(work)
        self._subscribed.add(ticket.id)

    # --- bus handlers ----------------------------------------------------------------------

    async def approaching(self, event: QueueApproaching) -> None:
        self._enqueue("approaching", event.ticket_id, event.number, position=event.position)

    async def called(self, event: QueueCalled) -> None:
        self._enqueue("called", event.ticket_id, event.number)

    async def recalled(self, event: QueueRecalled) -> None:
        self._enqueue("recalled", event.ticket_id, event.number, recalls=event.recalls)

    def _enqueue(
        self,
        kind: PushKind,
        ticket_id: str,
        number: int,
        *,
        position: int | None = None,
        recalls: int | None = None,
    ) -> None:
        if ticket_id not in self._subscribed:
            return  # nobody to tell: the phone never subscribed
        self._generation += 1
        job = _Job(
            kind,
            ticket_id,
            number,
            self._clock.monotonic(),
            self._generation,
            position=position,
            recalls=recalls,
        )
        try:
            self._jobs.put_nowait(job)
        except asyncio.QueueFull:
            self._metrics.push_given_up.labels(reason="queue_full").inc()
            return
        self._latest[ticket_id] = job.generation

    # --- the worker --------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Send queued pushes until ``stop``; then cancel what is in flight."""
        try:
            while not stop.is_set():
                getting = asyncio.ensure_future(self._jobs.get())
                stopping = asyncio.ensure_future(stop.wait())
                try:
                    await asyncio.wait({getting, stopping}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    stopping.cancel()
                    if not getting.done():
                        getting.cancel()
                if getting.done() and not getting.cancelled():
                    self._spawn(getting.result())
        finally:
            for task in list(self._running):
                task.cancel()
            if self._running:
                await asyncio.wait(self._running)
            await self._sender.aclose()

    async def idle(self) -> None:
        """Wait until every queued push was sent or given up (tests, benchmarks)."""
        await self._jobs.join()

    def _spawn(self, job: _Job) -> None:
        task = asyncio.create_task(self._deliver(job), name=f"push-{job.kind}")
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _deliver(self, job: _Job) -> None:
        try:
            while True:
                delay = await self._attempt(job)
                if delay is None:
                    return
                await asyncio.sleep(delay)
                job = replace(job, attempt=job.attempt + 1)
        except asyncio.CancelledError:
            raise
        except Exception:
            _LOGGER.exception("push for ticket failed unexpectedly")
            self._metrics.push_failed.labels(reason="error").inc()
        finally:
            if self._latest.get(job.ticket_id) == job.generation:
                del self._latest[job.ticket_id]
            self._jobs.task_done()

    async def _attempt(self, job: _Job) -> float | None:
        """One try; the delay before the next one, or None when this push is done."""
        found = await self._still_meant(job)
        if found is None:
            return None
        ticket, subscription = found
        message = PushMessage(
            subscription, self._payload(job, ticket), TTL_S[job.kind], URGENCY[job.kind]
        )
        async with self._slots:
            result = await self._sender.send(message)
        if job.attempt == 0:
            waited = self._clock.monotonic() - job.queued_at
            self._metrics.push_latency.labels(kind=job.kind).observe(waited)
        if result.outcome == "sent":
            self._metrics.push_sent.labels(kind=job.kind).inc()
            return None
        self._metrics.push_failed.labels(reason=result.reason).inc()
        if result.outcome == "gone":  # 404/410: the phone unsubscribed or the browser reset
            await self._uow.commit(lambda: (self._forget(job.ticket_id, subscription.endpoint), []))
            return None
        if result.outcome == "refused":
            self._metrics.push_given_up.labels(reason="refused").inc()
            return None
        return self._retry_delay(job)

    async def _still_meant(self, job: _Job) -> tuple[Ticket, Subscription] | None:
        """The ticket and its subscription, if this push still has someone to tell."""
        if self._latest.get(job.ticket_id) != job.generation:
            self._metrics.push_given_up.labels(reason="superseded").inc()
            return None
        ticket = await self._lookup(job.ticket_id)
        if ticket is None or ticket.state not in STILL_MEANT[job.kind]:
            if job.attempt > 0:  # a first attempt for a ticket already moved on is no loss
                self._metrics.push_given_up.labels(reason="ticket_ended").inc()
            return None
        subscription = await self._uow.read(self._subscriptions.get, job.ticket_id)
        if subscription is None:
            self._subscribed.discard(job.ticket_id)
            return None  # its subscription went (the ticket ended, or the phone unsubscribed)
        return ticket, subscription

    def _retry_delay(self, job: _Job) -> float | None:
        c = self._config
        ceiling = min(c.retry_max_delay_s, c.retry_initial_s * (2.0 ** min(job.attempt, 20)))
        delay = ceiling * self._rng.uniform(0.5, 1.0)  # jitter: phones retried apart
        if self._clock.monotonic() - job.queued_at + delay > c.retry_for_s:
            self._metrics.push_given_up.labels(reason="retry_budget").inc()
            return None
        return delay

    def _forget(self, ticket_id: str, endpoint: str) -> int:
        return self._subscriptions.delete_if(ticket_id, endpoint)

    def _payload(self, job: _Job, ticket: Ticket) -> bytes:
        title, body = self._wording(job.kind, ticket.locale, job.number, self._labels(ticket.queue))
        data: dict[str, object] = {
            "type": job.kind,
            "ticket_id": job.ticket_id,
            "number": job.number,
            "queue": ticket.queue,
            "lang": ticket.locale,
            "title": title,
            "body": body,
            "url": f"{self._public_url}/t/{job.ticket_id}",
        }
        if job.position is not None:
            data["position"] = job.position
        if job.recalls is not None:
            data["recalls"] = job.recalls
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
