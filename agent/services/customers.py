"""Apply customer records and tombstones from the central service, idempotently.

The inbound adapter (`agent.sync.inbound`) parses the MQTT payload; this service gets the
typed message. Each change is one unit of work; what other services must do about it
(recognition tables, queue links, alerts on the tablets) are events dispatched after commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from agent.core.customer_sync import (
    ApplyCustomerBatch,
    HeldRecords,
    ReadHeldRecords,
    digest_of,
)
from agent.core.customers import (
    CustomerMessage,
    CustomerRecord,
    Tombstone,
    is_newer,
    profile_json,
)
from agent.core.events import PrivacyErased
from agent.core.messages import ApplyCustomerMessage, CustomerForgotten, CustomerRecordsChanged
from agent.core.ports import Clock
from agent.metrics import Metrics
from agent.store.customers import CustomerRepository
from agent.store.privacy import CustomerForgetting
from agent.store.unit_of_work import UnitOfWork

_LOGGER = logging.getLogger(__name__)


class CustomerService:
    def __init__(
        self,
        uow: UnitOfWork,
        repository: CustomerRepository,
        forgetting: CustomerForgetting,
        clock: Clock,
        metrics: Metrics,
    ) -> None:
        self._uow = uow
        self._repository = repository
        self._forgetting = forgetting
        self._clock = clock
        self._metrics = metrics
        self._reactions: asyncio.Future[None] | None = None

    async def load(self) -> None:
        self._metrics.customer_records.set(await self._uow.read(self._repository.count))

    async def apply(self, command: ApplyCustomerMessage) -> bool:
        """Apply a record or tombstone; False if it is not newer than what is held."""
        message = command.message
        applied = await self._uow.commit(lambda: self._apply(message))
        if applied:
            self._metrics.customer_records.set(await self._uow.read(self._repository.count))
        return applied

    async def apply_batch(self, command: ApplyCustomerBatch) -> list[bool | Exception]:
        """Apply many records and tombstones (a drained inbound batch, a resync page).

        One work, so one transaction and one fsync for the batch instead of one per record;
        the versions held are read for the whole batch at once and compared in arrival
        order; a message that fails is handed back as its exception without undoing the
        others (contract §8.3): see `_apply_all`.
        """
        messages = command.messages
        outcomes, reactions = await self._uow.commit_deferred(lambda: self._apply_all(messages))
        # This batch's reactions (recognition tables) run while the next batch is parsed and
        # written; the previous batch's are awaited, so they lag by one batch at most.
        previous, self._reactions = self._reactions, reactions
        if previous is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(previous)
        if any(outcome is True for outcome in outcomes):
            self._metrics.customer_records.set(await self._uow.read(self._repository.count))
        return outcomes

    def _apply_all(
        self, messages: Sequence[CustomerMessage]
    ) -> tuple[list[bool | Exception], list[object]]:
        """The whole batch at once when nothing in it fails; one savepoint per message only
        for a batch that holds a message SQLite refuses (rare: a poison record)."""
        try:
            with self._uow.database.atomic():  # a savepoint inside the group's work
                return self._apply_all_at_once(messages)
        except sqlite3.OperationalError:
            raise  # the disk, not one message: fails the whole work, as `each` does
        except Exception:  # noqa: BLE001 - undone above; the slow path finds which one
            _LOGGER.debug("a customer batch failed as a whole; applying it message by message")
        return self._apply_each(messages)

    def _apply_all_at_once(
        self, messages: Sequence[CustomerMessage]
    ) -> tuple[list[bool | Exception], list[object]]:
        """Upserts in runs through two prepared statements each (`upsert_many`); a tombstone
        ends the run before it, so every change lands in arrival order. Raises whatever a
        message raises, for the caller to undo the batch."""
        held = self._repository.held_versions_of({m.customer_id for m in messages})
        now = self._clock.now()
        outcomes: list[bool | Exception] = []
        events: list[object] = []
        run: list[CustomerRecord] = []
        texts: list[str] = []  # each run record's profile, encoded once

        def end_run() -> None:
            if run:
                self._repository.upsert_many(run, now, texts)
                events.append(CustomerRecordsChanged(tuple(run)))
                run.clear()
                texts.clear()

        for message in messages:
            if not is_newer(message.version, held.get(message.customer_id)):
                outcomes.append(False)
                continue
            held[message.customer_id] = message.version
            outcomes.append(True)
            change = _to_store(message)
            if isinstance(change, CustomerRecord):
                run.append(change)
                texts.append(profile_json(change.profile))
                continue
            end_run()
            events.extend(self._forget(change, now))
        end_run()
        return outcomes, events

    def _apply_each(
        self, messages: Sequence[CustomerMessage]
    ) -> tuple[list[bool | Exception], list[object]]:
        held = self._repository.held_versions_of({m.customer_id for m in messages})
        events: list[object] = []

        def apply_one(message: CustomerMessage) -> bool:
            applied, caused = self._apply_over(message, held.get(message.customer_id))
            if applied:
                held[message.customer_id] = message.version
                events.extend(caused)
            return applied

        return self._uow.each(messages, apply_one), events

    async def held_records(self, _command: ReadHeldRecords) -> HeldRecords:
        """Count and digest what is held, to compare with central's manifest."""

        def count_and_digest() -> HeldRecords:
            # On the store thread: hashing 100k versions would stall the event loop.
            held = self._repository.held_versions()
            return HeldRecords(len(held), digest_of(held))

        return await self._uow.read(count_and_digest)

    def _apply(self, message: CustomerMessage) -> tuple[bool, list[object]]:
        return self._apply_over(message, self._repository.held_version(message.customer_id))

    def _apply_over(
        self, message: CustomerMessage, held_version: int | None
    ) -> tuple[bool, list[object]]:
        if not is_newer(message.version, held_version):
            return False, []
        now = self._clock.now()
        change = _to_store(message)
        if isinstance(change, CustomerRecord):
            self._repository.upsert(change, now)
            return True, [CustomerRecordsChanged((change,))]
        return True, self._forget(change, now)

    def _forget(self, tombstone: Tombstone, now: datetime) -> list[object]:
        forgotten = self._forgetting.forget(tombstone, now)
        events: list[object] = []
        if tombstone.op == "erase":
            events.append(PrivacyErased(tombstone.customer_id, forgotten.records_deleted))
        events.append(CustomerForgotten(tombstone.customer_id, tombstone.op, forgotten.alert_ids))
        return events


def _to_store(message: CustomerMessage) -> CustomerRecord | Tombstone:
    """What the agent keeps of a newer message: the record, without its profile unless the
    customer consents to a staff profile; without recognition consent only a tombstone
    (data minimisation: the agent has no use for the record, as for a revoke)."""
    if isinstance(message, Tombstone):
        return message
    if not message.consent_recognition:
        return Tombstone("revoke", message.customer_id, message.version)
    if not message.consent_staff_profile:
        return replace(message, profile={})
    return message
