"""Apply customer records and tombstones from the central service, idempotently."""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import replace

from agent.core.customers import (
    CustomerMessage,
    MalformedMessage,
    Tombstone,
    is_newer,
    parse_customer_message,
)
from agent.core.events import DomainEvent, PrivacyErased
from agent.core.ports import Clock
from agent.metrics import Metrics
from agent.store.customers import CustomerRepository
from agent.store.unit_of_work import UnitOfWork
from agent.store.visits import VisitRepository

_LOGGER = logging.getLogger(__name__)


class Outcome(enum.Enum):
    APPLIED = "applied"
    STALE = "stale"
    MALFORMED = "malformed"
    IGNORED = "ignored"


CustomerListener = Callable[[CustomerMessage], None]


class CustomerService:
    def __init__(
        self,
        uow: UnitOfWork,
        repository: CustomerRepository,
        visits: VisitRepository,
        clock: Clock,
        metrics: Metrics,
    ) -> None:
        self._uow = uow
        self._repository = repository
        self._visits = visits
        self._clock = clock
        self._metrics = metrics
        self._listeners: list[CustomerListener] = []

    async def load(self) -> None:
        self._metrics.customer_records.set(await self._uow.read(self._repository.count))

    def subscribe(self, listener: CustomerListener) -> None:
        """Called after each applied change (recognition rebuilds its tables from here)."""
        self._listeners.append(listener)

    async def handle(self, topic_customer_id: str, payload: bytes) -> Outcome:
        if not payload:
            # An empty retained message is how a broker clears a topic; nothing to apply.
            return self._count(Outcome.IGNORED)
        try:
            message = parse_customer_message(payload, topic_customer_id)
        except MalformedMessage as exc:
            _LOGGER.warning("dropped malformed customer message: %s", exc)
            self._metrics.malformed_dropped.labels(source="mqtt.customers").inc()
            return self._count(Outcome.MALFORMED)
        applied = await self._uow.commit(lambda: self._apply(message))
        if not applied:
            return self._count(Outcome.STALE)
        for listener in self._listeners:
            listener(message)
        self._metrics.customer_records.set(await self._uow.read(self._repository.count))
        return self._count(Outcome.APPLIED)

    def _apply(self, message: CustomerMessage) -> tuple[bool, list[DomainEvent]]:
        if not is_newer(message.version, self._repository.held_version(message.customer_id)):
            return False, []
        now = self._clock.now()
        if not isinstance(message, Tombstone):
            if not message.consent_recognition:
                # Data minimisation: without recognition consent the agent has no use for
                # the record, so it keeps nothing but the version (as for a revoke).
                self._repository.forget(
                    Tombstone("revoke", message.customer_id, message.version), now
                )
                self._visits.anonymise(message.customer_id)
                return True, []
            if not message.consent_staff_profile:
                message = replace(message, profile={})
            self._repository.upsert(message, now)
            return True, []
        deleted = self._repository.forget(message, now)
        if message.op == "erase":
            deleted += self._visits.erase(message.customer_id)
            # The local copy of delivered events about them goes too (the sent log).
            self._uow.outbox.forget_customer(message.customer_id)
            return True, [PrivacyErased(customer_id=message.customer_id, records_deleted=deleted)]
        self._visits.anonymise(message.customer_id)
        return True, []

    def _count(self, outcome: Outcome) -> Outcome:
        self._metrics.inbound_applied.labels(topic="customers", outcome=outcome.value).inc()
        return outcome
