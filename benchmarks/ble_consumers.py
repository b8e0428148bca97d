"""The two consumers `ble_end_to_end` compares, each run in a process of its own.

`python -m benchmarks.ble_consumers paho PORT COUNT` is the fair peer: a bare paho client
(its own network thread, as paho is normally used) that `json.loads` each message and counts
it. `python -m benchmarks.ble_consumers agent PORT COUNT DIR` is the real agent (bootstrap's
`build` + `assemble`, a mqtt-proxy BLE device, the sync link to the same broker) with the
customers `DIR/agent.db` was seeded with; it counts what the agent's own metrics say arrived.

Each prints `ready` once subscribed and waits for `go` on stdin (the parent warms it up in
between: the phones arrive, so the measured run is the steady state of a store, sightings of
customers already inside), then prints one JSON line about what came after `go`: messages
received, the monotonic time of the last one (system-wide, so the parent can compare it with
the publish start), the process's CPU seconds, all threads included, and queue-full drops.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.common import STORE_HEAD

IDLE_END_S = 2.0  # nothing new for this long after the first message: the run is over
TOPIC = "home/+/BTtoMQTT/#"


def _go() -> None:
    """`ready` printed; the parent may warm the consumer up, then writes `go` to start."""
    print("ready", flush=True)
    sys.stdin.readline()


def paho_subscriber(port: int, on_payload: Callable[[bytes], None]) -> Any:
    """The peer's client: paho with its own network thread, as paho is normally used,
    subscribed to the scanners' topic (returned once the broker has said so)."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    subscribed = threading.Event()

    def on_message(_c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        on_payload(message.payload)

    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.on_message = on_message
    client.on_subscribe = lambda *_args: subscribed.set()
    client.connect("127.0.0.1", port)
    client.subscribe(TOPIC, qos=0)
    client.loop_start()
    subscribed.wait(60)
    return client


def bare_paho(port: int, count: int) -> None:
    received = 0
    last_at = 0.0

    def on_payload(payload: bytes) -> None:
        nonlocal received, last_at
        json.loads(payload)
        received += 1
        last_at = time.monotonic()

    client = paho_subscriber(port, on_payload)
    _go()
    base, cpu_start = received, time.process_time()
    while True:
        time.sleep(0.05)
        n = received - base
        if n >= count or (n and time.monotonic() - last_at > IDLE_END_S):
            break
    cpu = time.process_time() - cpu_start
    client.loop_stop()
    print(json.dumps({"received": n, "last_at": last_at, "cpu_s": cpu, "queue_full": 0}))


CONFIG = (
    STORE_HEAD
    + """[mqtt]
url = "mqtt://127.0.0.1:{broker_port}"
[queues.advice]
label = "Advice"
[[devices]]
kind = "ble"
adapter = "mqtt-proxy"
url = "mqtt://127.0.0.1:{broker_port}"
topic = "{topic}"
"""
)


def seed_customers(db_path: Path, records: list[dict[str, object]]) -> None:
    """The customers as the agent holds them after a sync, written in one transaction."""
    from datetime import UTC, datetime

    from agent.core.customers import CustomerRecord, parse_customer_message
    from agent.store.customers import CustomerRepository
    from agent.store.database import Database

    database = Database.open(db_path, store_id="bench-01")
    repository = CustomerRepository(database)
    now = datetime.now(UTC)
    with database.atomic():
        for record in records:
            parsed = parse_customer_message(json.dumps(record).encode(), str(record["customer_id"]))
            assert isinstance(parsed, CustomerRecord)
            repository.upsert(parsed, now)
    database.close()


def agent_config(directory: Path, port: int) -> Path:
    from simulators.mosquitto import free_port

    config = directory / "agent.toml"
    config.write_text(
        CONFIG.format(db=directory / "agent.db", port=free_port(), broker_port=port, topic=TOPIC)
    )
    return config


def arrived(metrics: object) -> int:
    """Advertisements the agent took in, by its own counters (read one metric at a time:
    collecting the whole registry every poll would cost the agent noticeable CPU)."""
    received = getattr(metrics, "ble_advertisements", None)
    if received is not None:  # the agent's own count of everything that arrived
        return int(
            sum(s.value for m in received.collect() for s in m.samples if s.name.endswith("_total"))
        )
    # Before that counter existed: resolved + unknown EID + malformed (all-EID messages only).
    total = 0.0
    for counter, label in (
        (metrics.readings_resolved, "ble"),  # type: ignore[attr-defined]
        (metrics.readings_dropped, "ble"),  # type: ignore[attr-defined]
        (metrics.malformed_dropped, "proxy_malformed"),  # type: ignore[attr-defined]
        (metrics.malformed_dropped, "proxy_queue_full"),  # type: ignore[attr-defined]
    ):
        for m in counter.collect():
            total += sum(
                s.value
                for s in m.samples
                if s.name.endswith("_total") and label in s.labels.values()
            )
    return int(total)


async def _agent(port: int, count: int, directory: Path) -> None:
    from agent.bootstrap import assemble, build
    from agent.config.loader import load_config

    components = build(load_config(agent_config(directory, port)))
    daemon = assemble(components)
    await daemon.start()
    assert components.link is not None
    await asyncio.wait_for(components.link.connected.wait(), 10)
    await asyncio.sleep(1.0)  # the proxy adapter's own subscription
    metrics = components.metrics
    await asyncio.to_thread(_go)
    base, base_full, cpu_start = arrived(metrics), queue_full(metrics), time.process_time()
    last_n, last_at = 0, 0.0
    while True:
        await asyncio.sleep(0.05)
        n = arrived(metrics) - base
        if n != last_n:
            last_n, last_at = n, time.monotonic()
        if n >= count or (n and time.monotonic() - last_at > IDLE_END_S):
            break
    cpu = time.process_time() - cpu_start
    full = queue_full(metrics) - base_full
    print(json.dumps({"received": last_n, "last_at": last_at, "cpu_s": cpu, "queue_full": full}))
    sys.stdout.flush()
    await daemon.stop()


def queue_full(metrics: object) -> float:
    counter = metrics.malformed_dropped  # type: ignore[attr-defined]
    return float(
        sum(
            s.value
            for m in counter.collect()
            for s in m.samples
            if s.name.endswith("_total") and s.labels.get("source") == "proxy_queue_full"
        )
    )


if __name__ == "__main__":
    mode, port_text, count_text = sys.argv[1:4]
    if mode == "paho":
        bare_paho(int(port_text), int(count_text))
    else:
        asyncio.run(_agent(int(port_text), int(count_text), Path(sys.argv[4])))
