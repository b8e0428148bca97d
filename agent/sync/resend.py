"""Answer the central side's resend requests from the sent log (docs/sync.md).

The requested events go back into the outbox unchanged (same id, seq and body) and the
publisher rewinds to them; whatever is no longer kept is announced with an `outbox.dropped`
event (reason `not_kept`) so the central side stops asking and knows the hole is final.
"""

from __future__ import annotations

import logging

from agent.core.events import DomainEvent, OutboxDropped
from agent.core.resend import ResendRequest
from agent.metrics import Metrics
from agent.store.outbox import Outbox, Requeued
from agent.store.unit_of_work import UnitOfWork
from agent.sync.publisher import OutboxPublisher

_LOGGER = logging.getLogger(__name__)


class ResendHandler:
    def __init__(
        self, uow: UnitOfWork, outbox: Outbox, publisher: OutboxPublisher, metrics: Metrics
    ) -> None:
        self._uow = uow
        self._outbox = outbox
        self._publisher = publisher
        self._metrics = metrics

    async def requeue(self, request: ResendRequest) -> None:
        """The bus handler of a parsed request (agent.sync.inbound parses the payload)."""
        result = await self._uow.commit(lambda: self._requeue(request))
        self._metrics.events_resent.inc(result.requeued)
        for low, high in result.unavailable:
            self._metrics.outbox_dropped.labels(reason="not_kept").inc(high - low + 1)
        _LOGGER.info(
            "resend request seq %d..%d: %d events queued again, %d ranges no longer kept",
            request.from_seq,
            request.to_seq,
            result.requeued,
            len(result.unavailable),
        )
        self._publisher.rewind(request.from_seq)

    def _requeue(self, request: ResendRequest) -> tuple[Requeued, list[DomainEvent]]:
        result = self._outbox.requeue(request.from_seq, request.to_seq)
        gone: list[DomainEvent] = [
            OutboxDropped(low, high, high - low + 1, "not_kept") for low, high in result.unavailable
        ]
        return result, gone
