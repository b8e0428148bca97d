"""Suggestions on arrival alerts (contract 8.8, issue 15) and what staff record about them.

`for_arrival` runs inside the recognition service's unit of work, so an alert, its
suggestions and the `suggestion.shown` / `suggestion.withheld` events are one transaction:
the tablet never sees a suggestion the store did not keep, and an outcome can always be
checked against what the alert showed. Only customers who consented to `staff_profile` get
any; the consent is read from the latest record at that moment.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Mapping, Sequence
from datetime import timedelta
from zoneinfo import ZoneInfo

from agent.config.playbook import PlaybookConfig
from agent.core.customers import CustomerRecord
from agent.core.events import CustomerNote, DomainEvent, JsonValue
from agent.core.playbook import ApplyPlaybook, Playbook
from agent.core.ports import Clock
from agent.core.profile_facts import profile_facts
from agent.core.suggestion_events import (
    CustomerPreference,
    SuggestionOutcome,
    SuggestionShown,
    SuggestionWithheld,
)
from agent.core.suggestions import ArrivalContext, LiveTicket, still_shown, suggest
from agent.metrics import Metrics
from agent.services.directory import CustomerDirectory
from agent.store.suggestions import SuggestionRepository
from agent.store.unit_of_work import UnitOfWork
from agent.sync.playbook_inbound import parse_playbook_message

_LOGGER = logging.getLogger(__name__)
# How far back local visits count for "frequency" (the longest window a rule reads).
_HISTORY_DAYS = 730


class SuggestionError(Exception):
    """A refused staff action; `code` is what the web layer words (and maps to a status)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def holdout_key(config: PlaybookConfig, device_secret: bytes) -> bytes:
    """The chain's key from `[playbook] holdout_key_file`, else one derived from this
    device's own secret (the groups are then per device, not chain-wide)."""
    if config.holdout_key is not None:
        return config.holdout_key
    return hmac.new(device_secret, b"retail-edge suggestion holdout", hashlib.sha256).digest()


class SuggestionService:
    def __init__(
        self,
        uow: UnitOfWork,
        repository: SuggestionRepository,
        directory: CustomerDirectory,
        clock: Clock,
        metrics: Metrics,
        *,
        config: PlaybookConfig,
        zone: str,
        key: bytes,
        queue_labels: Mapping[str, str],
        note_retention_days: int,
        central_document: str | None = None,
    ) -> None:
        self._uow = uow
        self._repository = repository
        self._directory = directory
        self._clock = clock
        self._metrics = metrics
        self._config = config
        self._central: Playbook | None = None
        self._zone = ZoneInfo(zone)
        self._key = key
        self._queue_labels = dict(queue_labels)
        self._note_retention = timedelta(days=note_retention_days)
        if central_document and config.central_override:
            self._central = _restored(central_document)

    @property
    def playbook(self) -> Playbook:
        return self._central if self._central is not None else self._config.playbook

    # --- the arrival (inside the recognition service's work, on the store thread) ---------

    def for_arrival(
        self, record: CustomerRecord, alert_id: str, visit_id: str
    ) -> tuple[tuple[dict[str, JsonValue], ...], list[DomainEvent]]:
        """The suggestions the alert shows, stored with it, and their events."""
        playbook = self.playbook
        if not record.consent_staff_profile or not playbook.enabled:
            return (), []
        now = self._clock.now()
        customer_id = record.customer_id
        earlier = self._repository.visit_times(
            customer_id, excluding=visit_id, since=now - timedelta(days=_HISTORY_DAYS)
        )
        ticket_row = self._repository.live_ticket(customer_id)
        ticket = (
            None
            if ticket_row is None
            else LiveTicket(
                ticket_row.queue,
                self._queue_labels.get(ticket_row.queue, ticket_row.queue),
                ticket_row.number,
                ticket_row.state,
            )
        )
        notes = self._repository.staff_notes(customer_id, since=now - self._note_retention)
        context = ArrivalContext(
            now=now,
            zone=self._zone,
            earlier_visits=tuple(earlier),
            ticket=ticket,
            staff_notes=notes.notes,
            staff_preferences=notes.preferences,
        )
        result = suggest(customer_id, profile_facts(record.profile), context, playbook, self._key)
        self._repository.add(alert_id, result)
        events: list[DomainEvent] = []
        if result.shown:
            events.append(SuggestionShown(alert_id, customer_id, tuple(result.shown_kinds)))
        if result.withheld:
            events.append(SuggestionWithheld(alert_id, customer_id, tuple(result.withheld_kinds)))
        return tuple(self._labelled(s.as_json()) for s in result.shown), events

    def _labelled(self, suggestion: dict[str, JsonValue]) -> dict[str, JsonValue]:
        """A rule's target queue named as the tablet shows it (its label), beside its id."""
        queue = suggestion.get("queue")
        if isinstance(queue, str) and "queue_label" not in suggestion:
            suggestion["queue_label"] = self._queue_labels.get(queue, queue)
        return suggestion

    def shown_now(self, alert_ids: Sequence[str]) -> dict[str, list[dict[str, JsonValue]]]:
        """What each stored alert showed, as a tablet may show it now (store thread): named
        as when it was raised, so a tablet that (re)connects shows the same card (the stored
        suggestion holds the queue's id only)."""
        now = self._clock.now()
        return {
            alert_id: [
                self._labelled(s) for s in (still_shown(x, now) for x in stored) if s is not None
            ]
            for alert_id, stored in self._repository.shown(list(alert_ids)).items()
        }

    async def counted(
        self, event: SuggestionShown | SuggestionWithheld | SuggestionOutcome
    ) -> None:
        """Bus handler: metrics from the committed events (a rolled-back alert counts not)."""
        if isinstance(event, SuggestionOutcome):
            self._metrics.suggestion_outcomes.labels(kind=event.kind, outcome=event.outcome).inc()
            return
        group = "shown" if isinstance(event, SuggestionShown) else "withheld"
        for kind in event.kinds:
            self._metrics.suggestions.labels(kind=kind, group=group).inc()

    # --- the central playbook (a command from the inbound adapter) ------------------------

    async def apply_central(self, command: ApplyPlaybook) -> bool:
        """True if the agent now follows the message (False: disabled by config, or stale)."""
        if not self._config.central_override:
            return False
        incoming = command.playbook
        if incoming is None:
            await self._keep(None)
            self._central = None
            _LOGGER.info("central playbook cleared: back to the config's")
            return True
        if self._central is not None and incoming.version <= self._central.version:
            return False
        # Kept, so a restart starts from it rather than the config's until the broker
        # redelivers the retained message.
        document = command.document
        if document:
            await self._keep(document)
        self._central = incoming
        _LOGGER.info("central playbook version %d: %d rules", incoming.version, len(incoming.rules))
        return True

    async def _keep(self, document: str | None) -> None:
        def work() -> tuple[None, list[object]]:
            self._repository.keep_central_playbook(document)
            return None, []

        await self._uow.commit(work)

    # --- what staff record ------------------------------------------------------------------

    def _consenting(self, customer_id: str | None) -> str:
        if customer_id is None:
            raise SuggestionError("no_alert")
        if customer_id not in self._directory:
            raise SuggestionError("no_alert")  # forgotten: as if the alert never was
        if not self._directory.staff_profile(customer_id):
            raise SuggestionError("no_staff_profile")
        return customer_id

    async def record_outcome(
        self, alert_id: str, kind: str, offer_id: str | None, outcome: str
    ) -> SuggestionOutcome:
        def work() -> tuple[SuggestionOutcome, list[object]]:
            customer_id = self._consenting(self._repository.alert_customer(alert_id))
            check = self._repository.record_outcome(
                alert_id, kind, offer_id, outcome, self._clock.now()
            )
            if check != "recorded":
                raise SuggestionError(check)
            event = SuggestionOutcome(alert_id, customer_id, kind, offer_id, outcome)
            return event, [event]

        return await self._uow.commit(work)

    async def add_info(self, alert_id: str, kind: str, text: str, by: str) -> str:
        """A note or preference from an alert's card: kept here for the next visits and sent
        up (`customer.note` / `customer.preference`). Returns the customer's id."""

        def work() -> tuple[str, list[object]]:
            customer_id = self._consenting(self._repository.alert_customer(alert_id))
            now = self._clock.now()
            self._repository.add_staff_note(
                customer_id, kind, text, by, now, keep_after=now - self._note_retention
            )
            event: DomainEvent = (
                CustomerNote(customer_id, text, by)
                if kind == "note"
                else CustomerPreference(customer_id, text, by)
            )
            return customer_id, [event]

        return await self._uow.commit(work)


def _restored(document: str) -> Playbook | None:
    """The central playbook kept by the last run, checked again (this version's reader may
    refuse what an older one accepted: then the config's applies until central sends one)."""
    try:
        return parse_playbook_message(document.encode()).playbook
    except ValueError:
        _LOGGER.warning("the kept central playbook is no longer valid; using the config's")
        return None
