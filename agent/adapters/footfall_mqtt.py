"""Door counters from ESPHome-style nodes over MQTT (contract §2 `adapter = "mqtt"`).

Two topics carry cumulative counts since the node booted, as decimal strings. The adapter
only parses; the reboot and duplicate rules live in the core (agent.core.footfall). Garbage
(non-numbers, negative, absurd values) is dropped and counted through `on_dropped`.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from types import TracebackType
from typing import Self
from urllib.parse import urlsplit

import aiomqtt

from agent.aio import TCP_NODELAY
from agent.core.ports import Clock
from agent.core.readings import FootfallCount

_COUNT = re.compile(r"\s*(\d{1,9})(?:\.0+)?\s*")  # ESPHome may print "12" or "12.0"


def parse_count(payload: bytes) -> int | None:
    try:
        match = _COUNT.fullmatch(payload.decode("ascii"))
    except UnicodeDecodeError:
        return None
    return int(match[1]) if match else None


class MqttDoorCounter:
    def __init__(
        self,
        url: str,
        door: str,
        in_topic: str,
        out_topic: str,
        clock: Clock,
        on_dropped: Callable[[str], None],
    ) -> None:
        parts = urlsplit(url)
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or (8883 if parts.scheme == "mqtts" else 1883)
        self._tls = parts.scheme == "mqtts"
        self.door = door
        self._topics = {in_topic: "in", out_topic: "out"}
        self._clock = clock
        self._on_dropped = on_dropped
        self._client: aiomqtt.Client | None = None
        self.name = f"footfall-mqtt:{door}"

    async def __aenter__(self) -> Self:
        self._client = aiomqtt.Client(
            self._host,
            self._port,
            tls_params=aiomqtt.TLSParameters() if self._tls else None,
            timeout=10,
            socket_options=TCP_NODELAY,
        )
        await self._client.__aenter__()
        for topic in self._topics:
            await self._client.subscribe(topic, qos=1)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._client is not None:
            await self._client.__aexit__(exc_type, exc, tb)
            self._client = None

    async def readings(self) -> AsyncIterator[FootfallCount]:
        assert self._client is not None, "enter the counter first"  # noqa: S101
        async for message in self._client.messages:
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
