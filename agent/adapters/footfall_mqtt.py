"""Door counters from ESPHome-style nodes over MQTT (contract §2 `adapter = "mqtt"`).

Two topics carry cumulative counts since the node booted, as decimal strings. The adapter
only parses; the reboot and duplicate rules live in the core (agent.core.footfall). Garbage
(non-numbers, negative, absurd values) is dropped and counted through `on_dropped`.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable

from agent.adapters.mqtt_client import DeviceSubscription, OverDeviceSubscription
from agent.config.model import NO_CREDENTIALS, BrokerCredentials
from agent.core.ports import Clock
from agent.core.readings import FootfallCount

_COUNT = re.compile(r"\s*(\d{1,9})(?:\.0+)?\s*")  # ESPHome may print "12" or "12.0"


def parse_count(payload: bytes) -> int | None:
    try:
        match = _COUNT.fullmatch(payload.decode("ascii"))
    except UnicodeDecodeError:
        return None
    return int(match[1]) if match else None


class MqttDoorCounter(OverDeviceSubscription[DeviceSubscription]):
    def __init__(
        self,
        url: str,
        door: str,
        in_topic: str,
        out_topic: str,
        clock: Clock,
        on_dropped: Callable[[str], None],
        credentials: BrokerCredentials = NO_CREDENTIALS,
    ) -> None:
        self.door = door
        self._topics = {in_topic: "in", out_topic: "out"}
        # QoS 1: a count is cumulative, but the last one before a disconnect must not be lost.
        self._broker = DeviceSubscription(
            url, dict.fromkeys(self._topics, 1), credentials=credentials
        )
        self._clock = clock
        self._on_dropped = on_dropped
        self.name = f"footfall-mqtt:{door}"

    async def readings(self) -> AsyncIterator[FootfallCount]:
        async for message in self._broker.messages():
            reading = self.parse(message.topic.value, message.payload)
            if reading is not None:
                yield reading

    def parse(self, topic: str, payload: object) -> FootfallCount | None:
        direction = self._topics.get(topic)
        value = parse_count(payload) if isinstance(payload, bytes) else None
        if direction is None or value is None:
            self._on_dropped("footfall_garbage")
            return None
        return FootfallCount(
            sensor=topic,
            door=self.door,
            direction=direction,
            value=value,
            cumulative=True,
            at=self._clock.monotonic(),
        )
