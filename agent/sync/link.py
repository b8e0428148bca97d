"""The one place that connects to the broker, supervises the connection and reconnects.

While connected it runs two jobs side by side: the outbox publisher and the inbound dispatcher.
When either fails (the connection dropped) both stop, and the link reconnects after a backoff
delay. MQTT 5 is tried first with a persistent session; a broker that refuses it gets 3.1.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import logging
import random
import sqlite3
import ssl
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiomqtt
import paho.mqtt.client as paho_mqtt
from aiomqtt.exceptions import MqttConnectError
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from agent.aio import TCP_NODELAY, cancel_and_wait, race
from agent.config.model import MqttConfig
from agent.core.clock import rfc3339
from agent.core.ports import Clock
from agent.metrics import Metrics
from agent.sync.acks import AckedPublisher, PublishRefused
from agent.sync.backoff import Backoff
from agent.sync.inbound_queue import InboundItem, InboundQueue
from agent.sync.publisher import OutboxPublisher
from agent.sync.topics import Topics

_LOGGER = logging.getLogger(__name__)

InboundHandler = Callable[[str, bytes], Awaitable[None]]
UNSUPPORTED_PROTOCOL_V3 = 1
UNSUPPORTED_PROTOCOL_V5 = 132
# Messages taken from the client and acknowledged together at most.
ACK_BURST = 256


class LinkState(enum.Enum):
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    DISABLED = "disabled"


InboundBatchHandler = Callable[[list[InboundItem]], Awaitable[None]]
# Publishes one QoS 1 message on the current connection (requests of a connection job).
PublishFn = Callable[[str, bytes], Awaitable[None]]
# Runs for the life of each connection, beside the publisher and the inbound dispatch.
ConnectionJob = Callable[[PublishFn], Coroutine[Any, Any, None]]


@dataclass(frozen=True, slots=True)
class InboundRoute:
    topic_filter: str
    handler: InboundHandler
    # Called just before the (re)subscription: the broker then replays the retained messages.
    subscribing: Callable[[], None] | None = None
    # Takes consecutive messages of this route drained together (customer records: one group
    # commit for the lot); without it, ``handler`` gets them one by one.
    batch: InboundBatchHandler | None = None


class _ConnectionEnded(Exception):
    """A job returned although it should run for the life of the connection."""


class MqttLink:
    def __init__(
        self,
        config: MqttConfig,
        topics: Topics,
        publisher: OutboxPublisher,
        routes: list[InboundRoute],
        *,
        metrics: Metrics,
        clock: Clock,
        version: str,
        rng: random.Random,
        first_retry_s: float = 0.5,
        jobs: Sequence[ConnectionJob] = (),
    ) -> None:
        self._config = config
        self._topics = topics
        self._publisher = publisher
        self._routes = routes
        self._jobs = tuple(jobs)
        self._metrics = metrics
        # Outlives each connection: what was acknowledged into it is applied even if the
        # connection drops meanwhile.
        self._inbound = InboundQueue(metrics)
        self._clock = clock
        self._version = version
        self._backoff = Backoff(first_retry_s, config.reconnect_max_s, rng)
        self._protocol = aiomqtt.ProtocolVersion.V5
        self.state = LinkState.DISCONNECTED
        self.connected = asyncio.Event()
        # Retained state (occupancy): only the latest value per topic matters, so it is not
        # queued in the outbox; it is published on every connect and whenever it changes.
        self._retained: dict[str, bytes] = {}
        self._retained_changed: set[str] = set()
        self._retained_wakeup = asyncio.Event()
        # A connection that ended on a storage error says nothing about the broker: the next
        # one must not reset the backoff, or a broken disk becomes a reconnect loop.
        self._storage_failed = False

    @property
    def storage_problem(self) -> str | None:
        """Why events the broker acknowledged are not recorded yet (disk full), if they are not."""
        return self._publisher.storage_problem

    def set_retained(self, topic: str, payload: bytes) -> None:
        self._retained[topic] = payload
        self._retained_changed.add(topic)
        self._retained_wakeup.set()

    @property
    def protocol(self) -> str:
        return "5" if self._protocol == aiomqtt.ProtocolVersion.V5 else "3.1.1"

    async def run(self, stop: asyncio.Event) -> None:
        """Stay connected until ``stop`` is set; then publish `offline` and disconnect."""
        dispatcher = asyncio.create_task(self._dispatch(), name="mqtt-inbound")
        try:
            await self._stay_connected(stop)
        finally:
            await cancel_and_wait([dispatcher])

    async def _stay_connected(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                async with self._client() as client:
                    await self._connected(client, stop)
                    return  # stop was requested and the offline status is out
            except MqttConnectError as exc:
                if self._refused_protocol(exc):
                    _LOGGER.warning("broker refused MQTT 5; falling back to MQTT 3.1.1")
                    self._protocol = aiomqtt.ProtocolVersion.V311
                    continue
                _LOGGER.warning("broker refused the connection: %s", exc)
            except sqlite3.Error as exc:
                # The publisher keeps the connection through storage errors; one from anywhere
                # else still must not turn into a fast reconnect loop.
                self._storage_failed = True
                self._metrics.storage_errors.inc()
                _LOGGER.error("MQTT connection ended by a storage error: %s", exc)  # noqa: TRY400
            except (aiomqtt.MqttError, OSError, _ConnectionEnded) as exc:
                _LOGGER.warning("MQTT connection lost or failed: %s", exc)
            except Exception:
                # The supervisor must outlive any bug below it: log it loudly, then retry.
                _LOGGER.exception("unexpected error in the MQTT link; reconnecting")
            self._set_disconnected()
            self._metrics.mqtt_connect_failures.inc()
            delay = self._backoff.next_delay()
            _LOGGER.info("reconnecting to %s in %.2fs", self._config.host, delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)
        self._set_disconnected()

    async def _connected(self, client: aiomqtt.Client, stop: asyncio.Event) -> None:
        self.state = LinkState.CONNECTED
        if not self._storage_failed:
            self._backoff.reset()
        self._storage_failed = False
        self._metrics.mqtt_connected.set(1)
        self._metrics.mqtt_connects.inc()
        _LOGGER.info("connected to MQTT broker %s (MQTT %s)", self._config.host, self.protocol)
        await client.publish(self._topics.status, self._status("online"), qos=1, retain=True)
        for route in self._routes:
            if route.subscribing is not None:
                route.subscribing()
            await client.subscribe(route.topic_filter, qos=1)
        self.connected.set()  # set once subscribed: nothing published after it is missed
        first = await race(
            stop.wait(),
            self._receive(client),
            self._publisher.run(self._publish_fn(client)),
            self._publish_retained(client),
            *(job(self._request_fn(client)) for job in self._jobs),
        )
        if first == 0:
            # A clean disconnect suppresses the Last Will, so say `offline` ourselves.
            with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
                await client.publish(
                    self._topics.status, self._status("offline"), qos=1, retain=True, timeout=5
                )
            return
        raise _ConnectionEnded("a connection job ended")

    async def _publish_retained(self, client: aiomqtt.Client) -> None:
        pending = set(self._retained)  # after a (re)connect the broker gets the latest of all
        while True:
            self._retained_wakeup.clear()
            pending |= self._retained_changed
            self._retained_changed.clear()
            for topic in sorted(pending):
                await client.publish(topic, self._retained[topic], qos=1, retain=True, timeout=30)
            pending.clear()
            await self._retained_wakeup.wait()

    def _publish_fn(self, client: aiomqtt.Client) -> Callable[[str, bytes], Awaitable[None]]:
        acked = AckedPublisher(client)

        async def publish(topic: str, payload: bytes) -> None:
            try:
                await acked.publish(topic, payload, timeout_s=30)
            except PublishRefused as exc:
                # The events stay in the outbox; the connection is recycled and they are
                # offered again after the backoff, until an operator fixes the ACL.
                self._metrics.mqtt_publish_refused.inc()
                _LOGGER.error("%s; events kept in the outbox", exc)  # noqa: TRY400
                raise

        return publish

    def _request_fn(self, client: aiomqtt.Client) -> PublishFn:
        async def publish(topic: str, payload: bytes) -> None:
            await client.publish(topic, payload, qos=1, timeout=30)

        return publish

    async def _receive(self, client: aiomqtt.Client) -> None:
        # Manual acknowledgements (set in _client): a QoS 1 message is acknowledged once it
        # is in the bounded inbound queue; while the queue is full nothing is taken, nothing
        # acknowledged, and the broker holds the rest (agent.sync.inbound_queue).
        paho = client._client  # aiomqtt does not expose acknowledgements
        # What aiomqtt already holds is taken in one go: one wake-up and one socket write
        # for a burst's acknowledgements instead of one each (a resync is a burst).
        arrived = client._queue  # the iterator's own queue, read here without waiting
        async for first in client.messages:
            burst = [first]
            while len(burst) < ACK_BURST and not arrived.empty():
                burst.append(arrived.get_nowait())
            for message in burst:
                payload = message.payload if isinstance(message.payload, bytes) else b""
                await self._inbound.put(InboundItem(message.topic.value, payload))
            for message in burst:
                paho.ack(message.mid, message.qos)

    def _route(self, topic: str) -> InboundRoute | None:
        for route in self._routes:
            if paho_mqtt.topic_matches_sub(route.topic_filter, topic):
                return route
        return None

    async def _dispatch(self) -> None:
        """Hand what is queued to the handlers: consecutive messages of a batch route as one
        list, the others one by one, in arrival order."""
        while True:
            items = await self._inbound.drain()
            start = 0
            while start < len(items):
                route = self._route(items[start].topic)
                end = start + 1
                if route is not None and route.batch is not None:
                    while end < len(items) and self._route(items[end].topic) is route:
                        end += 1
                await self._handle(route, items[start:end])
                start = end

    async def _handle(self, route: InboundRoute | None, items: list[InboundItem]) -> None:
        if route is None:
            return
        try:
            if route.batch is not None:
                await route.batch(items)
                return
            for item in items:
                await route.handler(item.topic, item.payload)
        except Exception:
            # Handlers drop what they cannot apply (agent.sync.inbound); this is the last
            # line: messages lost, never the connection nor the dispatcher (§8.3).
            self._metrics.malformed_dropped.labels(source="mqtt.unhandled").inc()
            _LOGGER.exception("inbound handler failed on %s", items[0].topic)

    def _client(self) -> aiomqtt.Client:
        # A new paho client per connection: paho's own queue of unacknowledged publishes
        # must not survive into the next connection (the outbox resends what matters).
        c = self._config
        v5 = self._protocol == aiomqtt.ProtocolVersion.V5
        properties = None
        if v5:
            properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            properties.SessionExpiryInterval = c.session_expiry_s
        client = aiomqtt.Client(
            c.host,
            c.port,
            identifier=c.client_id,
            username=c.username,
            password=_read_secret(c.password_file) if c.password_file else None,
            protocol=self._protocol,
            will=aiomqtt.Will(self._topics.status, self._status("offline"), qos=1, retain=True),
            clean_session=None if v5 else False,
            # paho accepts clean_start only for MQTT 5; 3.1.1 uses clean_session above.
            clean_start=False if v5 else paho_mqtt.MQTT_CLEAN_START_FIRST_ONLY,
            keepalive=c.keepalive_s,
            properties=properties,
            tls_context=_tls_context(c) if c.tls else None,
            timeout=15,
            socket_options=TCP_NODELAY,
        )
        client._client.manual_ack_set(on=True)
        return client

    def _status(self, state: str) -> bytes:
        doc = {"state": state, "version": self._version, "ts": rfc3339(self._clock.now())}
        return json.dumps(doc).encode("utf-8")

    def _refused_protocol(self, exc: MqttConnectError) -> bool:
        if self._protocol != aiomqtt.ProtocolVersion.V5:
            return False
        rc = exc.rc
        value = rc.value if isinstance(rc, ReasonCode) else rc
        return value in (UNSUPPORTED_PROTOCOL_V3, UNSUPPORTED_PROTOCOL_V5)

    def _set_disconnected(self) -> None:
        self.state = LinkState.DISCONNECTED
        self.connected.clear()
        self._metrics.mqtt_connected.set(0)


def _read_secret(path: Path) -> str:
    # Read at each connection so a rotated password file takes effect; never logged.
    return path.read_text(encoding="utf-8").strip()


def _tls_context(config: MqttConfig) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(config.ca_file) if config.ca_file else None)
    if config.client_cert and config.client_key:
        context.load_cert_chain(str(config.client_cert), str(config.client_key))
    return context
