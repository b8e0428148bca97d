"""The central side: MQTT 5 consumers in one shared-subscription group (each its own
process), and the ledger the parent merges their receipts into (dedupe by id, seq per store).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from agent.aio import TCP_NODELAY, cancel_and_wait
from benchmarks.common import percentile
from benchmarks.fleet.plan import GROUP, PREFIX
from benchmarks.fleet.processes import Child, ask_all


def consumer_main(conn: Connection, port: int, index: int) -> None:
    asyncio.run(consume(conn, port, index))


async def consume(conn: Connection, port: int, index: int) -> None:
    """One member of the central group: dedupe by id, check seq per store, time each receipt."""
    ids: dict[str, set[str]] = {}
    by_seq: dict[str, dict[int, str]] = {}
    fresh: list[tuple[str, int, str, float]] = []  # first receipts since the last collect
    message_times: list[float] = []
    counts = {"duplicates": 0, "conflicts": 0, "malformed": 0}

    def on_message(topic: str, payload: bytes, now: float) -> None:
        message_times.append(now)
        store = topic.split("/")[-2]
        try:
            doc = json.loads(payload)
        except ValueError:
            counts["malformed"] += 1
            return
        seen = ids.setdefault(store, set())
        seqs = by_seq.setdefault(store, {})
        for event in doc if isinstance(doc, list) else [doc]:
            event_id, seq = event["id"], event["seq"]
            if event_id in seen:
                counts["duplicates"] += 1
            elif seq in seqs:
                counts["conflicts"] += 1  # same seq, other id: must never happen
            else:
                seen.add(event_id)
                seqs[seq] = event_id
                fresh.append((store, seq, event_id, now))

    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    properties.SessionExpiryInterval = 0
    async with aiomqtt.Client(
        "127.0.0.1",
        port,
        identifier=f"central-{index}",
        protocol=aiomqtt.ProtocolVersion.V5,
        clean_start=True,
        properties=properties,
        timeout=30,
        socket_options=TCP_NODELAY,
    ) as client:
        await client.subscribe(f"$share/{GROUP}/{PREFIX}/stores/+/events", qos=1)

        async def receive() -> None:
            async for message in client.messages:
                payload = message.payload if isinstance(message.payload, bytes) else b""
                on_message(message.topic.value, payload, time.monotonic())

        task = asyncio.create_task(receive())
        conn.send("ready")
        while True:
            (command,) = await asyncio.to_thread(conn.recv)
            if task.done():
                task.result()
            conn.send((fresh, message_times, dict(counts)))
            fresh, message_times = [], []
            if command == "stop":
                break
        await cancel_and_wait([task])


@dataclass
class Ledger:
    """The union of what the consumers received, and what the publishers sent."""

    sent: dict[tuple[str, int], float] = field(default_factory=dict)
    received: dict[tuple[str, int], tuple[str, float]] = field(default_factory=dict)
    message_times: list[float] = field(default_factory=list)
    duplicates: int = 0
    conflicts: int = 0
    malformed: int = 0
    consumer_counts: dict[int, dict[str, int]] = field(default_factory=dict)
    stores_per_consumer: dict[int, set[str]] = field(default_factory=dict)

    def add_sent(self, stamps: dict[str, list[tuple[int, float]]]) -> None:
        for store, pairs in stamps.items():
            for seq, at in pairs:
                self.sent[store, seq] = at

    def add_received(self, index: int, reply: Any) -> None:
        fresh, message_times, counts = reply
        self.message_times.extend(message_times)
        self.consumer_counts[index] = counts
        stores = self.stores_per_consumer.setdefault(index, set())
        for store, seq, event_id, at in fresh:
            stores.add(store)
            known = self.received.get((store, seq))
            if known is None:
                self.received[store, seq] = (event_id, at)
            elif known[0] == event_id:
                self.duplicates += 1  # the same event reached two members of the group
            else:
                self.conflicts += 1

    def totals(self) -> tuple[int, int, int]:
        duplicates = self.duplicates + sum(c["duplicates"] for c in self.consumer_counts.values())
        conflicts = self.conflicts + sum(c["conflicts"] for c in self.consumer_counts.values())
        malformed = sum(c["malformed"] for c in self.consumer_counts.values())
        return duplicates, conflicts, malformed

    def gaps(self, last_seq: dict[str, int]) -> int:
        """Seqs missing per store, up to the last one each store committed."""
        return sum(
            1
            for store, last in last_seq.items()
            for seq in range(1, last + 1)
            if (store, seq) not in self.received
        )

    def window(self, start: float, end: float, prefix: str) -> dict[str, float]:
        """Throughput and latency of the events published by `prefix` stores in a window."""
        now = time.monotonic()
        latencies = []
        sent = 0
        for (store, seq), at in self.sent.items():
            if start <= at < end and store.startswith(prefix):
                sent += 1
                got = self.received.get((store, seq))
                # Not received yet: its latency is at least its age (overload shows here).
                latencies.append(((got[1] if got else now) - at) * 1000)
        delivered = sum(
            1
            for (store, _), (_, at) in self.received.items()
            if start <= at < end and store.startswith(prefix)
        )
        messages = sum(1 for at in self.message_times if start <= at < end)
        span = end - start
        return {
            "sent": sent / span,
            "delivered": delivered / span,
            "messages": messages / span,
            "p50": percentile(latencies, 0.5) if latencies else float("nan"),
            "p99": percentile(latencies, 0.99) if latencies else float("nan"),
        }


def collect_ledgers(consumers: Sequence[Child], ledger: Ledger) -> None:
    for index, reply in enumerate(ask_all(consumers, "collect")):
        ledger.add_received(index, reply)
