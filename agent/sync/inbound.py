"""Inbound MQTT as an adapter: each topic's bytes become one typed command, or a counted drop.

`customers/+` → `ApplyCustomerBatch` (the messages the link drained together),
`checkins` → `AppCheckin`, `resend` → `ResendRequest`, `customer_count` (central's manifest)
and `customer_pages` → the resync (`agent.sync.customer_resync`), each command handed to the
message bus (one handler each, listed in `agent.bootstrap.handlers`). Services
never see a payload. Anything that raises while parsing or applying a message is logged,
counted (`retail_edge_malformed_inputs_dropped_total{source="mqtt.…"}`) and dropped: it never
reaches the MQTT link, so a poison message (JSON nested 100 000 deep, a 2**64 version) cannot
close the connection, and a retained one cannot block the records behind it (contract §8.3).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TypeVar

from agent.core.customer_sync import ApplyCustomerBatch, parse_manifest, parse_page
from agent.core.customers import (
    CustomerMessage,
    MalformedMessage,
    parse_checkin,
    parse_customer_message,
)
from agent.core.ports import Clock
from agent.core.readings import AppCheckin
from agent.core.resend import parse_resend_request
from agent.metrics import Metrics
from agent.sync.customer_resync import CustomerResync
from agent.sync.inbound_queue import InboundItem
from agent.sync.link import ConnectionJob, InboundRoute
from agent.sync.topics import Topics

_LOGGER = logging.getLogger(__name__)
T = TypeVar("T")
# The message bus's `handle` (sync sits below services, so it takes the function, not the bus).
CommandSink = Callable[[object], Awaitable[object]]


class InboundAdapter:
    def __init__(self, topics: Topics, handle: CommandSink, clock: Clock, metrics: Metrics) -> None:
        self._topics = topics
        self._handle = handle
        self._clock = clock
        self._metrics = metrics
        # The broker's queue for this client may drop messages silently (mosquitto's
        # max_queued_messages): count customers messages since the last subscription against
        # what central announces it keeps retained (docs/sync.md, "records behind"), and
        # compare what is held with central's manifest to ask for what is missing.
        self._customers_received = 0
        self._announced: int | None = None
        self.resync = CustomerResync(topics, handle, metrics)

    def routes(self) -> list[InboundRoute]:
        return [
            # First: subscribed before the replay, so a full broker queue cannot drop it.
            InboundRoute(self._topics.customer_count, self.customer_count),
            InboundRoute(
                self._topics.customers_filter,
                self.customer,
                self._resubscribing,
                batch=self.customers,
            ),
            InboundRoute(self._topics.checkins, self.checkin),
            InboundRoute(self._topics.resend, self.resend),
            InboundRoute(self._topics.customer_pages, self.customer_page),
        ]

    def jobs(self) -> list[ConnectionJob]:
        """What runs beside the routes while connected: the manifest check and resync."""
        return [self.resync.run]

    def _resubscribing(self) -> None:
        # Each subscription makes the broker send every retained customer topic once more.
        self._customers_received = 0
        self._update_behind()
        self.resync.subscribing()

    async def customer_count(self, _topic: str, payload: bytes) -> None:
        """Extension (docs/sync.md): central's manifest of the customer topics it keeps."""
        try:
            manifest = parse_manifest(payload)
        except MalformedMessage as exc:
            _LOGGER.warning("dropped malformed customer manifest: %s", exc)
            self._metrics.malformed_dropped.labels(source="mqtt.customer_count").inc()
            return
        self._announced = manifest.records
        self._metrics.customer_records_announced.set(manifest.records)
        self._update_behind()
        self.resync.manifest_arrived(manifest)

    def _update_behind(self) -> None:
        self._metrics.customer_messages_received.set(self._customers_received)
        if self._announced is not None:
            behind = max(0, self._announced - self._customers_received)
            self._metrics.customer_records_behind.set(behind)

    async def customer(self, topic: str, payload: bytes) -> None:
        """One message from `customers/+` (the link hands them over in batches instead)."""
        await self.customers([InboundItem(topic, payload)])

    async def customers(self, items: list[InboundItem]) -> None:
        """Messages from `customers/+` drained together: parsed one by one (a malformed one
        is counted and dropped), applied as one batch in shared commits (a savepoint per
        message only if one of them fails)."""
        messages: list[CustomerMessage] = []
        for item in items:
            customer_id = self._topics.customer_id(item.topic)
            if customer_id is None:
                continue
            self._customers_received += 1
            if not item.payload:
                # An empty retained message is how a broker clears a topic; nothing to apply.
                self._outcome("ignored")
                continue
            message = self._parse(
                "customers", partial(parse_customer_message, item.payload, customer_id)
            )
            if message is not None:
                messages.append(message)
        self._update_behind()
        self.resync.customers_arrived(len(items))
        await self._apply(messages)

    async def customer_page(self, _topic: str, payload: bytes) -> None:
        """Extension (docs/sync.md): one page of central's records, asked for by the resync."""
        page = self._parse("customer_pages", partial(parse_page, payload))
        if page is None:
            return
        for _ in range(page.malformed):
            self._dropped("customer_pages")
        applied = await self._apply(list(page.records))
        self._metrics.customer_records_recovered.inc(applied)
        self.resync.page_arrived(page)

    async def _apply(self, messages: list[CustomerMessage]) -> int:
        """Apply and count each message's outcome; returns how many were applied."""
        if not messages:
            return 0
        outcomes = await self._deliver("customers", lambda: ApplyCustomerBatch(tuple(messages)))
        if not isinstance(outcomes, list) or len(outcomes) != len(messages):
            # The whole batch failed (dropped and counted once by _deliver): count the rest.
            for _ in messages[1:]:
                self._dropped("customers")
            return 0
        applied = stale = 0
        for outcome in outcomes:
            if isinstance(outcome, Exception):
                _LOGGER.error("dropped a customers message that could not be applied: %r", outcome)
                self._dropped("customers")
            elif outcome:
                applied += 1
            else:
                stale += 1
        # Once per batch, not per record: a resync is thousands of them.
        self._outcome("applied", applied)
        self._outcome("stale", stale)
        return applied

    def _parse(self, source: str, parse: Callable[[], T]) -> T | None:
        try:
            return parse()
        except MalformedMessage as exc:
            _LOGGER.warning("dropped malformed %s message: %s", source, exc)
        except Exception:  # a parser bug must not become a dropped connection either
            _LOGGER.exception("dropped a %s message the parser failed on", source)
        self._dropped(source)
        return None

    async def checkin(self, _topic: str, payload: bytes) -> None:
        def parse() -> AppCheckin:
            checkin = parse_checkin(payload)
            return AppCheckin(checkin.customer_id, checkin.at_unix, self._clock.monotonic())

        await self._deliver("checkins", parse)

    async def resend(self, _topic: str, payload: bytes) -> None:
        await self._deliver("resend", lambda: parse_resend_request(payload))

    async def _deliver(self, source: str, parse: Callable[[], object]) -> object | None:
        """The command's result, or None if the message was dropped (and counted)."""
        try:
            command = parse()
        except MalformedMessage as exc:
            _LOGGER.warning("dropped malformed %s message: %s", source, exc)
            self._dropped(source)
            return None
        except Exception:  # a parser bug must not become a dropped connection either
            _LOGGER.exception("dropped a %s message the parser failed on", source)
            self._dropped(source)
            return None
        try:
            result: object = await self._handle(command)
        except Exception:
            # A disk error, a number the store refused, a bug: this message is lost, the
            # link and the messages behind it are not.
            _LOGGER.exception("dropped a %s message that could not be applied", source)
            self._dropped(source)
            return None
        return result

    def _dropped(self, source: str) -> None:
        self._metrics.malformed_dropped.labels(source=f"mqtt.{source}").inc()
        if source == "customers":
            self._outcome("malformed")

    def _outcome(self, outcome: str, count: int = 1) -> None:
        if count:
            self._metrics.inbound_applied.labels(topic="customers", outcome=outcome).inc(count)
