"""A simulated ESPHome door node: break beams in, cumulative counters out over MQTT.

It replays a simulated store day (simulators.door) through the same direction logic the
firmware runs, and publishes its `people_in` / `people_out` counters retained on the topics
the agent reads, as ESPHome does. Now and then it reboots: its counters start again from 0,
which the agent must not mistake for negative traffic.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from urllib.parse import urlsplit

import aiomqtt

from agent.aio import TCP_NODELAY
from agent.core.beams import BeamPair, BeamSettings
from simulators.door import store_day

_LOGGER = logging.getLogger(__name__)


class DoorNodeSimulator:
    def __init__(
        self,
        mqtt_url: str,
        door: str = "main",
        *,
        speed: float = 60.0,
        peak_per_hour: float = 180.0,
        reboot_probability_per_day: float = 0.5,
        rng: random.Random | None = None,
    ) -> None:
        parts = urlsplit(mqtt_url)
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or 1883
        self.name = f"door-node:{door}"
        self.in_topic = f"footfall-{door}/sensor/people_in/state"
        self.out_topic = f"footfall-{door}/sensor/people_out/state"
        self._speed = speed
        self._peak = peak_per_hour
        self._reboot_p = reboot_probability_per_day
        self._rng = rng or random.Random(3)
        self.counted = {"in": 0, "out": 0}  # since the node's last boot
        self.truth = {"in": 0, "out": 0}

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                async with aiomqtt.Client(
                    self._host, self._port, timeout=10, socket_options=TCP_NODELAY
                ) as client:
                    await self._boot(client)
                    while not stop.is_set():
                        await self._day(client, stop)
            except aiomqtt.MqttError as exc:
                _LOGGER.info("door node simulator: broker unreachable (%s)", exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=1.0)

    async def _boot(self, client: aiomqtt.Client) -> None:
        self.counted = {"in": 0, "out": 0}
        await self._publish(client)

    async def _publish(self, client: aiomqtt.Client) -> None:
        await client.publish(self.in_topic, str(self.counted["in"]), qos=1, retain=True)
        await client.publish(self.out_topic, str(self.counted["out"]), qos=1, retain=True)

    async def _day(self, client: aiomqtt.Client, stop: asyncio.Event) -> None:
        script = store_day(self._rng, peak_per_hour=self._peak)
        for passage in script.passages:
            self.truth[passage.direction] += passage.people
        reboot_at = (
            self._rng.uniform(0, script.events[-1][0])
            if self._rng.random() < self._reboot_p
            else None
        )
        pair = BeamPair(BeamSettings())
        previous = 0.0
        for at, beam, broken in script.events:
            delay = (at - previous) / self._speed
            previous = at
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=delay)
                if stop.is_set():
                    return
            if reboot_at is not None and at >= reboot_at:
                reboot_at = None
                _LOGGER.info("%s rebooting (counters start again from 0)", self.name)
                await self._boot(client)
            direction = pair.change(beam, broken, at)
            if direction is not None:
                self.counted[direction] += 1
                await self._publish(client)
