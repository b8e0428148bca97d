"""BLE through the daemon's own handler path, in-process: the mqtt-proxy adapter's parsing
(`MqttProxyScanner`), the sources pump (`agent.services.sources._pump`) and
`RecognitionService.sighting` of an agent built by `agent.bootstrap.build` with 10 000
customers loaded from its database. Only the broker socket is replaced: the adapter's
subscription hands over (topic, payload) pairs from memory, as its MQTT subscriber makes them
out of the socket's chunks, one broker wake-up's worth at a time, so the figure is the agent's
own cost after the MQTT parsing (`benchmarks/callgrind_ble.py` also counts the whole path
through a broker).

Peer in the same run: the same messages through `json.loads` alone, and through
`TheengsDecoder` (the parser Theengs Gateway runs on the same BTtoMQTT JSON), when installed
(`pip install TheengsDecoder`; benchmark-only, not a runtime dependency).
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from benchmarks.ble_consumers import agent_config, seed_customers
from benchmarks.ble_end_to_end import PUBLISH_TOPIC, _lines, _records
from benchmarks.callgrind_ble import batch_handler
from benchmarks.common import Figure, figure

THEENGS_SAMPLE = 2000  # ~1 ms per message: it tries every device model it knows
BROKER_WAKEUP = 64  # messages per socket read under load (a 64 KiB read of ~170-byte messages)


class _MemorySubscription:
    """Stands in for the broker connection only: hands over the given messages."""

    def __init__(self, messages: list[tuple[bytes, bytes]]) -> None:
        self._messages = messages

    async def __aenter__(self) -> _MemorySubscription:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def batches(self, max_batch: int) -> AsyncIterator[list[tuple[bytes, bytes]]]:
        step = min(max_batch, BROKER_WAKEUP)
        for start in range(0, len(self._messages), step):
            yield self._messages[start : start + step]

    def take_counts(self) -> tuple[int, int]:
        return 0, 0


async def _through_agent(workdir: Path, payloads: list[bytes]) -> tuple[float, dict[str, float]]:
    from agent.bootstrap import build
    from agent.config.loader import load_config
    from agent.services.sources import _pump
    from agent.sync.backoff import Backoff

    components = build(load_config(agent_config(workdir, 1)))
    await components.recognition.load()
    scanner = scanner_over(components, payloads)
    backoff = Backoff(0.5, 30.0, random.Random(0))
    started = time.perf_counter()
    await _pump(scanner, components.recognition.sighting, None, backoff, *batch_handler(components))
    elapsed = time.perf_counter() - started
    get = components.metrics.registry.get_sample_value
    counts = {
        "resolved": get("retail_edge_readings_resolved_total", {"kind": "ble"}) or 0,
        "unknown": get("retail_edge_readings_dropped_total", {"kind": "ble"}) or 0,
    }
    components.runner.call(components.database.close)
    components.runner.close()
    return len(payloads) / elapsed, counts


def scanner_over(components: Any, payloads: list[bytes]) -> Any:
    """The agent's mqtt-proxy adapter, wired as `agent.devices` wires it, reading ``payloads``
    from memory instead of a broker socket."""
    from agent.adapters.ble_mqtt_proxy import MqttProxyScanner

    topic = PUBLISH_TOPIC.encode()
    messages = [(topic, p) for p in payloads]
    scanner = MqttProxyScanner(
        "mqtt://127.0.0.1:1", "home/+/BTtoMQTT/#", components.clock, _counter(components.metrics)
    )
    scanner._broker = _MemorySubscription(messages)  # type: ignore[assignment]
    return scanner


def _counter(metrics: Any) -> Any:
    """The adapter's counting callback, as `agent.devices` wires it (or, for the adapter of
    before the batched path, its `on_dropped`)."""
    from agent import devices

    if hasattr(devices, "ble_advertisement_counter"):
        return devices.ble_advertisement_counter(metrics, "bench")
    return devices.dropped_counter(metrics)


def _theengs(payloads: list[bytes], sample: int) -> float | None:
    try:
        from TheengsDecoder import decodeBLE  # type: ignore[import-untyped]
    except ImportError:
        return None
    texts = [p.decode() for p in payloads[:sample]]
    started = time.perf_counter()
    for text in texts:
        decodeBLE(text)
    return len(texts) / (time.perf_counter() - started)


def run(quick: bool) -> list[Figure]:
    count = 20_000 if quick else 300_000
    customers = 1_000 if quick else 10_000
    with tempfile.TemporaryDirectory(prefix="ble-path-") as tmp:
        workdir = Path(tmp)
        records = _records(customers)
        payloads = _lines(records, count)
        seed_customers(workdir / "agent.db", records)
        rates = []
        for _ in range(1 if quick else 3):
            rate, counts = asyncio.run(_through_agent(workdir, payloads))
            rates.append(rate)
        started = time.perf_counter()
        for payload in payloads:
            json.loads(payload)
        floor = len(payloads) / (time.perf_counter() - started)
        theengs = _theengs(payloads, 200 if quick else THEENGS_SAMPLE)
    ours = sorted(rates)[len(rates) // 2]
    note = (
        f"median of {len(rates)}; {count} advertisements, 2000 phones (half opted in),"
        f" {customers} customers; resolved {counts['resolved']:.0f}, unknown EID"
        f" {counts['unknown']:.0f}"
    )
    figures = [
        figure(
            f"BLE handler path in-process (adapter -> pump -> sighting), {customers} customers",
            round(ours),
            round(floor),
            "adv/s on one core (baseline: json.loads of the same messages alone)",
            ">= 150000/s",
            note,
        )
    ]
    figures.append(
        figure(
            "BLE handler path vs TheengsDecoder",
            round(ours),
            round(theengs) if theengs else "not installed",
            "adv/s (baseline: TheengsDecoder.decodeBLE on the same JSON, parse only)",
            "-",
            "Theengs decodes the advertisement; it resolves no EID and tracks no presence",
        )
    )
    return figures


if __name__ == "__main__":
    for f in run(quick="--quick" in sys.argv):
        print(f)
