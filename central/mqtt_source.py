"""MQTT 5 consumer: a shared subscription `$share/{group}/{p}/stores/+/events` with manual acks.

paho runs its network loop in its own thread; each message is handed to the asyncio loop, and
its PUBACK is sent only when the ingest has committed it (`manual_ack=True`). A session that
persists (`clean_start = false`, a session expiry) means the broker keeps what this consumer
had not acknowledged when it died and sends it again when it comes back with the same client
id, while the other members of the group carry on with the rest.

An acknowledgement belongs to one connection: after a reconnect the broker resends whatever
was not acknowledged, so deliveries from an earlier connection are never acknowledged on the
new one (their message ids mean something else there). MQTT 5 wants PUBACKs in the order the
messages came (§4.6); batches are committed and acknowledged in arrival order.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from central.envelope import STORE_ID
from central.metrics import IngestMetrics
from central.source import Delivery

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Handle:
    connection: int
    mid: int
    qos: int


class MqttSource:
    def __init__(
        self,
        url: str,
        prefix: str,
        group: str,
        client_id: str,
        metrics: IngestMetrics,
        *,
        ca_file: str | None = None,
        session_expiry_s: int = 24 * 3600,
        receive_maximum: int = 1000,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts"):
            raise ValueError(f"not an mqtt:// or mqtts:// URL: {url}")
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or (8883 if parts.scheme == "mqtts" else 1883)
        self._tls = parts.scheme == "mqtts"
        self._username = unquote(parts.username) if parts.username else None
        self._password = unquote(parts.password) if parts.password else None
        self._ca_file = ca_file
        self._prefix = prefix
        self._group = group
        self._client_id = client_id
        self._metrics = metrics
        self._session_expiry = session_expiry_s
        self._receive_maximum = receive_maximum
        self._queue: asyncio.Queue[Delivery] = asyncio.Queue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: paho.Client | None = None
        self._connection = 0  # bumped at every CONNACK, on paho's thread
        self.connected = asyncio.Event()

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self._client_id,
            protocol=paho.MQTTv5,
            manual_ack=True,
        )
        if self._username is not None:
            client.username_pw_set(self._username, self._password)
        if self._tls:
            client.tls_set_context(ssl.create_default_context(cafile=self._ca_file))
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        client.reconnect_delay_set(min_delay=1, max_delay=10)
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = self._session_expiry
        properties.ReceiveMaximum = self._receive_maximum
        client.connect_async(
            self._host, self._port, keepalive=30, clean_start=False, properties=properties
        )
        client.loop_start()
        self._client = client

    # --- paho's thread -------------------------------------------------------------------

    def _on_connect(
        self, client: paho.Client, _u: Any, _f: Any, reason: ReasonCode, _p: Any
    ) -> None:
        if reason.is_failure:
            _LOGGER.warning("MQTT broker refused the connection: %s", reason)
            return
        self._connection += 1
        events = f"$share/{self._group}/{self._prefix}/stores/+/events"
        # Retained messages never go to a shared subscription (MQTT 5 §4.8.2): the stores'
        # retained status is an ordinary subscription of every member.
        client.subscribe([(events, 1), (f"{self._prefix}/stores/+/status", 1)])

    def _on_subscribe(
        self, _c: paho.Client, _u: Any, _mid: int, reasons: list[ReasonCode], _p: Any
    ) -> None:
        if any(reason.is_failure for reason in reasons):
            _LOGGER.error("MQTT broker refused the subscriptions: %s", reasons)
            return
        self._metrics.broker_reconnects.inc()
        self._call(self.connected.set)
        _LOGGER.info("MQTT consumer %s connected, group %s", self._client_id, self._group)

    def _on_disconnect(
        self, _c: paho.Client, _u: Any, _f: Any, reason: ReasonCode, _p: Any
    ) -> None:
        self._call(self.connected.clear)
        if self._client is not None:  # not our own close()
            _LOGGER.warning("MQTT consumer disconnected (%s); paho reconnects", reason)

    def _on_message(self, _c: paho.Client, _u: Any, message: paho.MQTTMessage) -> None:
        topic = message.topic
        kind, store = self._classify(topic)
        handle = _Handle(self._connection, message.mid, message.qos)
        delivery = Delivery(kind, store, bytes(message.payload), handle)
        self._call(self._queue.put_nowait, delivery)

    def _call(self, function: Any, *args: Any) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(function, *args)

    def _classify(self, topic: str) -> tuple[Any, str | None]:
        head = f"{self._prefix}/stores/"
        if not topic.startswith(head):
            return "other", None
        store, _, leaf = topic[len(head) :].partition("/")
        valid = store if STORE_ID.fullmatch(store) else None
        if leaf == "events":
            return "events", valid
        if leaf == "status":
            return "status", valid
        return "other", valid

    # --- the ingest's loop ----------------------------------------------------------------

    async def batch(self, max_messages: int, wait_s: float) -> list[Delivery]:
        try:
            first = await asyncio.wait_for(self._queue.get(), timeout=wait_s)
        except TimeoutError:
            return []
        taken = [first]
        while len(taken) < max_messages and not self._queue.empty():
            taken.append(self._queue.get_nowait())
        return taken

    async def ack(self, deliveries: list[Delivery]) -> None:
        client = self._client
        if client is None:
            return
        for delivery in deliveries:
            handle = delivery.handle
            assert isinstance(handle, _Handle)  # noqa: S101 - our own deliveries only
            if handle.qos > 0 and handle.connection == self._connection:
                client.ack(handle.mid, handle.qos)

    async def publish(self, topic: str, payload: bytes) -> None:
        if self._client is None:
            raise RuntimeError("not started")
        info = self._client.publish(topic, payload, qos=1)
        if info.rc != paho.MQTT_ERR_SUCCESS:
            raise ConnectionError(f"publish to {topic} failed: {paho.error_string(info.rc)}")

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.disconnect()
            client.loop_stop()
