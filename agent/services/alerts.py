"""Arrival alerts on the staff tablets: shown, taken, withdrawn, and replayed to a new stream.

Every method here reacts to a committed change (bus handlers) or reads the store, so what a
tablet sees follows the database: an alert is shown only if its row was written, withdrawn
for every row an erase or revoke found, and a tablet that (re)connects gets the open ones
from the store, not from memory that a restart or a departure would have cleared.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from agent.core.alerts import ArrivalAlert
from agent.core.customers import CustomerRecord
from agent.core.events import JsonValue
from agent.core.messages import AlertAcked, AlertRaised, CustomerForgotten
from agent.core.ports import Clock
from agent.metrics import Metrics
from agent.services.directory import CustomerDirectory
from agent.services.hub import STAFF_TOPIC, Hub, Message
from agent.store.customers import CustomerRepository
from agent.store.unit_of_work import UnitOfWork
from agent.store.visits import StoredAlert, VisitHistory, VisitRepository

_LOGGER = logging.getLogger(__name__)
# What each stored alert showed (contract 8.8), read on the store thread: alert id -> list.
ShownSuggestions = Callable[[Sequence[str]], dict[str, list[dict[str, JsonValue]]]]
# A reconnecting tablet is shown the alerts of the current shift, not of the whole retention.
SNAPSHOT_MAX_AGE_H = 12


class AlertBoard:
    def __init__(
        self,
        uow: UnitOfWork,
        visits: VisitRepository,
        customers: CustomerRepository,
        directory: CustomerDirectory,
        clock: Clock,
        metrics: Metrics,
        hub: Hub,
        *,
        alert_retention_h: int,
        shown_suggestions: ShownSuggestions | None = None,
    ) -> None:
        self._uow = uow
        self._visits = visits
        self._customers = customers
        self._directory = directory
        self._clock = clock
        self._metrics = metrics
        self._hub = hub
        self._window = timedelta(hours=min(alert_retention_h, SNAPSHOT_MAX_AGE_H))
        self._shown = shown_suggestions

    async def show(self, event: AlertRaised) -> None:
        alert = event.alert
        # Consent is checked again at the moment of showing: a revoke handled since the
        # alert was written must win (its withdrawal found the row; this is the same alert).
        if alert.customer_id not in self._directory:
            return
        self._hub.publish(STAFF_TOPIC, "arrival", alert.as_json())
        self._metrics.arrivals.labels(via=alert.via).inc()

    async def acked(self, event: AlertAcked) -> None:
        self._hub.publish(STAFF_TOPIC, "alert_acked", {"alert_id": event.alert_id, "by": event.by})

    async def withdraw(self, event: CustomerForgotten) -> None:
        for alert_id in event.alert_ids:
            self._hub.publish(STAFF_TOPIC, "alert_withdrawn", {"alert_id": alert_id})
        if event.alert_ids:
            _LOGGER.info("withdrew %d alerts after %s", len(event.alert_ids), event.op)

    async def open_alerts(self) -> list[ArrivalAlert]:
        """Alerts still open, for a tablet opening its stream: not taken by anyone, not
        withdrawn (erase and revoke delete them), about a customer who still consents, and
        raised within the alert retention, at most the last 12 hours (a shift: older ones
        are history, not someone waiting at the door). Oldest first, as they arrived."""
        since = self._clock.now() - self._window
        alerts = []
        opened = await self._uow.read(self._read_open, since)
        ids = [stored.alert_id for stored, _, _ in opened]
        shown = {} if self._shown is None else await self._uow.read(self._shown, ids)
        for stored, history, record in opened:
            if stored.customer_id not in self._directory:  # forgotten meanwhile
                continue
            alerts.append(
                ArrivalAlert.of(
                    record,
                    alert_id=stored.alert_id,
                    via=stored.via,
                    at=stored.at,
                    visits=history.visits,
                    last_visit=history.last_visit,
                    suggestions=tuple(shown.get(stored.alert_id, ())),
                    now=self._clock.now(),
                )
            )
        return alerts

    async def snapshot(self) -> list[Message]:
        return [Message(STAFF_TOPIC, "arrival", a.as_json()) for a in await self.open_alerts()]

    def _read_open(self, since: datetime) -> list[tuple[StoredAlert, VisitHistory, CustomerRecord]]:
        # The name and profile for each card come from the customers table (the directory
        # does not hold them), read with the alerts on the store thread.
        opened = []
        for stored in self._visits.open_alerts(since):
            record = self._customers.get(stored.customer_id)
            if record is not None and stored.customer_id in self._directory:
                opened.append((stored, self._history(stored), record))
        return opened

    def _history(self, stored: StoredAlert) -> VisitHistory:
        # What the live alert said: the visits before this one.
        return self._visits.history(stored.customer_id, excluding=stored.visit_id, before=stored.at)
