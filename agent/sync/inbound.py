"""Inbound MQTT as an adapter: each topic's bytes become one typed command, or a counted drop.

`customers/+` → `ApplyCustomerMessage`, `checkins` → `AppCheckin`, `resend` → `ResendRequest`,
each handed to the message bus (one handler each, listed in `agent.bootstrap`). Services
never see a payload. Anything that raises while parsing or applying a message is logged,
counted (`retail_edge_malformed_inputs_dropped_total{source="mqtt.…"}`) and dropped: it never
reaches the MQTT link, so a poison message (JSON nested 100 000 deep, a 2**64 version) cannot
close the connection, and a retained one cannot block the records behind it (contract §8.3).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from agent.core.customers import (
    INT64_MAX,
    MalformedMessage,
    json_object,
    parse_checkin,
    parse_customer_message,
)
from agent.core.messages import ApplyCustomerMessage
from agent.core.ports import Clock
from agent.core.readings import AppCheckin
from agent.core.resend import parse_resend_request
from agent.metrics import Metrics
from agent.sync.link import InboundRoute
from agent.sync.topics import Topics

_LOGGER = logging.getLogger(__name__)
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
        # what central announces it keeps retained (docs/sync.md, "records behind").
        self._customers_received = 0
        self._announced: int | None = None

    def routes(self) -> list[InboundRoute]:
        return [
            InboundRoute(self._topics.customers_filter, self.customer, self._resubscribing),
            InboundRoute(self._topics.checkins, self.checkin),
            InboundRoute(self._topics.resend, self.resend),
            InboundRoute(self._topics.customer_count, self.customer_count),
        ]

    def _resubscribing(self) -> None:
        # Each subscription makes the broker send every retained customer topic once more.
        self._customers_received = 0
        self._update_behind()

    async def customer_count(self, _topic: str, payload: bytes) -> None:
        """Extension (docs/sync.md): how many customer topics central keeps retained."""
        try:
            records = _parse_count(payload)
        except MalformedMessage as exc:
            _LOGGER.warning("dropped malformed customer count: %s", exc)
            self._metrics.malformed_dropped.labels(source="mqtt.customer_count").inc()
            return
        self._announced = records
        self._metrics.customer_records_announced.set(records)
        self._update_behind()

    def _update_behind(self) -> None:
        self._metrics.customer_messages_received.set(self._customers_received)
        if self._announced is not None:
            behind = max(0, self._announced - self._customers_received)
            self._metrics.customer_records_behind.set(behind)

    async def customer(self, topic: str, payload: bytes) -> None:
        customer_id = self._topics.customer_id(topic)
        if customer_id is None:
            return
        self._customers_received += 1
        self._update_behind()
        if not payload:
            # An empty retained message is how a broker clears a topic; nothing to apply.
            self._outcome("ignored")
            return

        def parse() -> ApplyCustomerMessage:
            return ApplyCustomerMessage(parse_customer_message(payload, customer_id))

        applied = await self._deliver("customers", parse)
        if applied is not None:
            self._outcome("applied" if applied else "stale")

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

    def _outcome(self, outcome: str) -> None:
        self._metrics.inbound_applied.labels(topic="customers", outcome=outcome).inc()


def _parse_count(payload: bytes) -> int:
    """`{"records": N}` with 0 <= N < 2**63."""
    records = json_object(payload, 1024, "customer count").get("records")
    if not isinstance(records, int) or isinstance(records, bool):
        raise MalformedMessage("records must be an integer")
    if not 0 <= records <= INT64_MAX:
        raise MalformedMessage("records out of range")
    return records
