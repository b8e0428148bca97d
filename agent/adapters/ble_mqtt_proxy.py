"""BLE through ESP32 door scanners: OpenMQTTGateway / Theengs `BTtoMQTT` JSON over MQTT.

One subscription to the scanners' topic (default `home/+/BTtoMQTT/#`, contract §2/§7) on the
in-store broker. Each message becomes an EidSighting, or is dropped: malformed JSON and
non-Eddystone-EID frames are counted through `on_dropped`, never logged with their content.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from types import TracebackType
from typing import Self

from agent.adapters.mqtt_client import DeviceSubscription
from agent.config.model import NO_CREDENTIALS, BrokerCredentials
from agent.core.bttomqtt import MalformedAdvertisement, parse_bttomqtt
from agent.core.eddystone import parse_eid_frame
from agent.core.ports import Clock
from agent.core.readings import EidSighting

_LOGGER = logging.getLogger(__name__)


class MqttProxyScanner:
    def __init__(
        self,
        url: str,
        topic: str,
        clock: Clock,
        on_dropped: Callable[[str], None],
        *,
        credentials: BrokerCredentials = NO_CREDENTIALS,
        client_id: str | None = None,
    ) -> None:
        # QoS 0: an advertisement is stale in a second; redelivering it later is useless.
        self._broker = DeviceSubscription(
            url, {topic: 0}, credentials=credentials, client_id=client_id
        )
        self._clock = clock
        self._on_dropped = on_dropped
        self.name = f"mqtt-proxy:{topic}"

    async def __aenter__(self) -> Self:
        await self._broker.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._broker.__aexit__(exc_type, exc, tb)

    async def readings(self) -> AsyncIterator[EidSighting]:
        async for message in self._broker.messages():
            payload = message.payload if isinstance(message.payload, bytes) else b""
            sighting = self.parse(message.topic.value, payload)
            if sighting is not None:
                yield sighting

    def parse(self, topic: str, payload: bytes) -> EidSighting | None:
        try:
            advertisement = parse_bttomqtt(payload)
        except MalformedAdvertisement:
            self._on_dropped("proxy_malformed")
            return None
        if advertisement is None:
            return None  # another kind of device: not counted, not kept
        frame = parse_eid_frame(advertisement.service_data)
        if frame is None:
            return None  # Eddystone but not an EID frame (UID, TLM, URL)
        tx_power, eid = frame
        gateway = topic.split("/")[1] if topic.count("/") >= 2 else topic
        return EidSighting(
            eid=eid,
            rssi=advertisement.rssi,
            tx_power=tx_power,
            address=advertisement.address,
            reader=f"proxy:{gateway}",
            at=self._clock.monotonic(),
        )
