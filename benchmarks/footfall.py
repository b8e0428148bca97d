"""Footfall: counts/s through the adapter's parsing and the occupancy logic, and the latency
from a door node's MQTT publish to the agent's retained occupancy update.

Baselines in the same run: `int(payload)` alone (the floor of any parser), and a plain
publish -> subscribe round trip through the same broker (the floor of any MQTT pipeline).
"""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import tempfile
import time
from pathlib import Path

import aiomqtt

from agent.adapters.footfall_mqtt import MqttDoorCounter
from agent.aio import TCP_NODELAY
from agent.bootstrap import build_daemon
from agent.config.loader import parse_config
from agent.core.clock import SystemClock
from agent.core.footfall import Direction, Occupancy, OccupancySettings, counter_delta
from simulators.mosquitto import MosquittoBroker

IN = "footfall-main/sensor/people_in/state"
OUT = "footfall-main/sensor/people_out/state"


def _logic_rate(n: int) -> tuple[float, float]:
    adapter = MqttDoorCounter("mqtt://127.0.0.1", "main", IN, OUT, SystemClock(), lambda _: None)
    rng = random.Random(1)
    payloads = [(IN if rng.random() < 0.5 else OUT, str(i).encode()) for i in range(n)]
    occupancy = Occupancy(OccupancySettings(capacity=40))
    last: dict[str, int] = {}
    started = time.perf_counter()
    for topic, payload in payloads:
        reading = adapter.parse(topic, payload)
        assert reading is not None
        people = counter_delta(last.get(reading.sensor), reading.value)
        last[reading.sensor] = reading.value
        occupancy.count(reading.door, Direction(reading.direction), people)
    ours = n / (time.perf_counter() - started)
    started = time.perf_counter()
    for _, payload in payloads:
        int(payload)
    floor = n / (time.perf_counter() - started)
    return ours, floor


async def _latency(samples: int) -> tuple[list[float], list[float]]:
    with MosquittoBroker(persistence=False) as broker, tempfile.TemporaryDirectory() as tmp:
        config = parse_config(
            {
                "store": {"id": "bench-01", "name": "Bench"},
                "storage": {"path": str(Path(tmp) / "agent.db")},
                "http": {"bind": "127.0.0.1", "port": 0, "public_url": "http://127.0.0.1"},
                "mqtt": {"url": broker.url},
                "occupancy": {"publish_min_interval_s": 0.05},
                "devices": [{"kind": "footfall", "adapter": "mqtt", "door": "main"}],
            },
            source=Path(tmp) / "bench.toml",
        )
        daemon = build_daemon(config)
        await daemon.start()
        try:
            assert daemon.c.link is not None
            await asyncio.wait_for(daemon.c.link.connected.wait(), 10)
            await asyncio.sleep(0.5)
            async with aiomqtt.Client(
                "127.0.0.1", broker.port, socket_options=TCP_NODELAY
            ) as client:
                await client.subscribe("retail/v1/stores/bench-01/occupancy", qos=1)
                await client.subscribe("bench/echo", qos=1)
                ours, floor = [], []
                for i in range(1, samples + 1):
                    started = time.perf_counter()
                    await client.publish(IN, str(i), qos=1, retain=True)
                    async for message in client.messages:
                        doc = json.loads(message.payload)  # type: ignore[arg-type]
                        if message.topic.value.endswith("occupancy") and doc["occupancy"] == i:
                            break
                    ours.append(time.perf_counter() - started)
                    started = time.perf_counter()
                    await client.publish("bench/echo", b"{}", qos=1)
                    async for message in client.messages:
                        if message.topic.value == "bench/echo":
                            break
                    floor.append(time.perf_counter() - started)
                    await asyncio.sleep(0.1)
                return ours, floor
        finally:
            await daemon.stop()


def run(quick: bool) -> list[dict[str, object]]:
    ours_rate, floor_rate = _logic_rate(20_000 if quick else 500_000)
    ours, floor = asyncio.run(_latency(5 if quick else 40))
    p = lambda xs, q: sorted(xs)[min(len(xs) - 1, int(q * len(xs)))] * 1000  # noqa: E731
    return [
        {
            "name": "footfall counts through parsing + counter rules + occupancy",
            "ours": round(ours_rate),
            "baseline": round(floor_rate),
            "unit": "counts/s on one core (baseline: int(payload) alone)",
            "target": "far above any door (a busy door: < 1 count/s)",
            "note": "in-process; database commits excluded (one per count, see joins benchmark)",
        },
        {
            "name": "door node publish -> retained occupancy update, p50 / p99",
            "ours": f"{p(ours, 0.5):.1f} / {p(ours, 0.99):.1f}",
            "baseline": f"{statistics.median(floor) * 1000:.1f} / {p(floor, 0.99):.1f}",
            "unit": "ms (baseline: publish -> subscribe round trip, same broker)",
            "target": "< 2000 ms",
            "note": "real mosquitto; includes the durable commit of each count; publish_min_interval_s = 0.05",
        },
    ]


if __name__ == "__main__":
    import sys

    for figure in run(quick="--quick" in sys.argv):
        print(figure)
