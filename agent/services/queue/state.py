"""The queues in memory: each queue's book of active tickets, its wait estimator, its accuracy
tracker and its lock, loaded from the store at start and reloaded after a failed commit.

Every other module of the queue service reads and changes the queues through this registry,
so there is one place that knows which queue an active ticket is in.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from agent.config.model import AgentConfig, QueueConfig
from agent.core.estimate import AccuracyTracker, WaitEstimator, WaitRange
from agent.core.hours import is_open
from agent.core.ports import Clock
from agent.core.priority import APPOINTMENT
from agent.core.queue import QueueBook, Ticket
from agent.store.tickets import TicketRepository
from agent.store.unit_of_work import UnitOfWork

_LOGGER = logging.getLogger(__name__)


@dataclass
class QueueState:
    config: QueueConfig
    book: QueueBook
    estimator: WaitEstimator
    accuracy: AccuracyTracker
    lock: asyncio.Lock


class QueueRegistry:
    def __init__(
        self, config: AgentConfig, uow: UnitOfWork, tickets: TicketRepository, clock: Clock
    ) -> None:
        self._config = config
        self._uow = uow
        self._tickets = tickets
        self._clock = clock
        self.zone = ZoneInfo(config.store.timezone)
        # Both dicts are changed in place, never replaced: the service's modules share them.
        self.queues: dict[str, QueueState] = {}
        self.where: dict[str, str] = {}  # active ticket id -> queue id
        # Priority class -> head start on the join time, the same in every queue (docs/queue.md).
        self.head_starts = {p.name: float(p.ahead_s) for p in config.priorities}
        self.head_starts[APPOINTMENT] = float(config.appointments.ahead_s)
        self.booked_ahead: Callable[[QueueState, int], int] | None = None

    async def load(self) -> None:
        active = await self._uow.read(self._tickets.active)
        for qc in self._config.queues:
            estimator = WaitEstimator(qc.default_service_s, qc.servers)
            accuracy = AccuracyTracker()
            for t in await self._uow.read(self._tickets.recent_served, qc.id, 30):
                if t.called_at and t.ended_at:
                    estimator.record_service((t.ended_at - t.called_at).total_seconds())
            for t in await self._uow.read(self._tickets.recent_called, qc.id, 200):
                track_accuracy(accuracy, t)
            book = QueueBook(qc.id, [t for t in active if t.queue == qc.id], self.head_starts)
            self.queues[qc.id] = QueueState(qc, book, estimator, accuracy, asyncio.Lock())
        self.where.clear()
        self.where.update({t.id: t.queue for t in active if t.queue in self.queues})

    async def reload(self, q: QueueState) -> None:
        """After a failed commit: memory must not claim what the disk does not hold."""
        active = await self._uow.read(self._tickets.active)
        q.book = QueueBook(
            q.config.id, [t for t in active if t.queue == q.config.id], self.head_starts
        )

    def get(self, queue: str) -> QueueState:
        try:
            return self.queues[queue]
        except KeyError:
            raise LookupError(queue) from None

    def active(self, ticket_id: str) -> Ticket | None:
        queue = self.where.get(ticket_id)
        return None if queue is None else self.queues[queue].book.get(ticket_id)

    def estimate(self, q: QueueState, ahead: int) -> WaitRange:
        """The wait for someone with ``ahead`` people before them, counting the booked
        appointments that will come before them too (set by the appointments' desk)."""
        extra = self.booked_ahead(q, ahead) if self.booked_ahead is not None else 0
        return self.base_estimate(q, ahead + extra)

    def base_estimate(self, q: QueueState, ahead: int) -> WaitRange:
        return q.estimator.estimate(ahead, self._elapsed(q), self._clock.monotonic())

    def estimates(self, q: QueueState, count: int, start: int = 0) -> list[WaitRange]:
        """``estimate(q, ahead)`` for ahead = start .. count - 1, sharing the work they share."""
        booked = self.booked_ahead
        aheads: Iterable[int] = range(start, count)
        if booked is not None:
            aheads = [a + booked(q, a) for a in range(start, count)]
        return q.estimator.estimates(aheads, self._elapsed(q), self._clock.monotonic())

    def _elapsed(self, q: QueueState) -> list[float]:
        now = self._clock.now()
        return [(now - t.called_at).total_seconds() for t in q.book.called() if t.called_at]

    def is_open(self) -> bool:
        return is_open(self._config.opening_hours.days, self._clock.now().astimezone(self.zone))

    def local_day(self, moment: datetime) -> str:
        """Ticket numbers restart each local day."""
        return moment.astimezone(self.zone).date().isoformat()


def track_accuracy(accuracy: AccuracyTracker, ticket: Ticket) -> None:
    if ticket.called_at is None or ticket.predicted_high_s is None:
        return
    actual = (ticket.called_at - ticket.created_at).total_seconds()
    predicted = WaitRange(int(ticket.predicted_low_s or 0), int(ticket.predicted_high_s))
    accuracy.record(predicted, actual)
