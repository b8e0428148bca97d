"""QoS 1 publishes that fail when the broker refuses them (MQTT 5 PUBACK reason codes).

aiomqtt 2.x resolves a publish on any PUBACK and drops its reason code, so a broker that
refuses a message (an ACL denial: 0x87 "not authorized", a quota, a bad topic) looks like a
delivery, and the outbox would delete an event nobody received. Here the outbox's publishes
go through paho directly, each with a future that the PUBACK resolves, or fails with
`PublishRefused` when the reason code is a failure (>= 0x80). 0x10 "no matching subscribers"
is a success: the broker took the message. MQTT 3.1.1 has no reason codes (a denied publish is
silently dropped by mosquitto), which the resend extension covers (docs/sync.md).

The hook wraps aiomqtt's own on_publish, which still settles aiomqtt's publishes (status and
retained messages). It relies on `aiomqtt.Client._client`, the paho client, stable across
aiomqtt 2.x (pinned in pyproject.toml).
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiomqtt
import paho.mqtt.client as paho_mqtt
from paho.mqtt.reasoncodes import ReasonCode


class PublishRefused(aiomqtt.MqttError):
    """The broker answered a publish with a failure reason code."""

    def __init__(self, topic: str, reason: str) -> None:
        super().__init__(f"broker refused a publish on {topic}: {reason}")
        self.reason = reason


class AckedPublisher:
    def __init__(self, client: aiomqtt.Client) -> None:
        self._paho: paho_mqtt.Client = client._client
        self._waiting: dict[int, asyncio.Future[ReasonCode | None]] = {}
        self._aiomqtt_on_publish: Any = self._paho.on_publish
        self._paho.on_publish = self._on_publish

    async def publish(self, topic: str, payload: bytes, timeout_s: float) -> None:
        info = self._paho.publish(topic, payload, qos=1)
        if info.rc != paho_mqtt.MQTT_ERR_SUCCESS:
            raise aiomqtt.MqttCodeError(info.rc, "could not publish")
        future: asyncio.Future[ReasonCode | None] = asyncio.get_running_loop().create_future()
        # paho calls on_publish on this loop (aiomqtt drives its socket from the loop), never
        # before a QoS 1 publish has returned: registering now cannot miss the PUBACK.
        self._waiting[info.mid] = future
        try:
            reason = await asyncio.wait_for(future, timeout_s)
        finally:
            self._waiting.pop(info.mid, None)
        if reason is not None and reason.is_failure:
            raise PublishRefused(topic, str(reason))

    def _on_publish(
        self, client: paho_mqtt.Client, userdata: Any, mid: int, reason: Any, properties: Any
    ) -> None:
        future = self._waiting.get(mid)
        if future is None:
            self._aiomqtt_on_publish(client, userdata, mid, reason, properties)
        elif not future.done():
            future.set_result(reason if isinstance(reason, ReasonCode) else None)
