"""Customer resync: a store (re)subscribes and the broker replays every retained record.

The path the daemon runs: a real mosquitto holding N retained customer records (published
by the central simulator before the agent starts), the agent built and started as `retail-
edge run` builds it, its MQTT link subscribing, the inbound queue, the batch apply, SQLite
with `synchronous=FULL`. Timed from the start of the daemon until every record is held.

Peers in the same run, on the same broker and records:
- the transport: a bare aiomqtt client (MQTT 5, as the agent) subscribing to the same topics
  and `json.loads` of each payload, nothing stored (the floor any agent pays to receive
  them with this MQTT library);
- the storage: the agent's own `CustomerRepository.upsert` of the same parsed records in one
  transaction with one fsync, no MQTT (the "one bulk transaction" of issue 17).
Also reported: the agent process's RSS growth during the burst (the inbound queue's bound).

The garbage collector is tuned as `retail-edge run` tunes it once started
(`agent.daemon.tune_garbage_collector`), for the agent's rounds and both peers alike, and put
back to CPython's defaults after each: measured with the defaults, the collector's full
passes over the 20k parsed records were a quarter of the handler's time, which the daemon
never pays (issue 17, resync section of RESULTS.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import random
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiomqtt

from agent.bootstrap import assemble, build
from agent.config.loader import parse_config
from agent.core.customers import CustomerRecord, parse_customer_message
from agent.daemon import tune_garbage_collector
from agent.store.customers import CustomerRepository
from agent.store.database import Database
from agent.sync.inbound import InboundAdapter

try:  # before issue 17 there was no inbound queue (the benchmark runs on both, for A/B)
    from agent.sync.inbound_queue import DRAIN_MAX, InboundItem
except ImportError:  # pragma: no cover
    DRAIN_MAX, InboundItem = 500, None  # type: ignore[assignment,misc]
from benchmarks.common import Figure, figure, rss_mb
from simulators.central import CentralService
from simulators.customers import demo_customer
from simulators.mosquitto import MosquittoBroker

PREFIX = "retail/v1"


def _config(tmp: str, url: str) -> object:
    return parse_config(
        {
            "store": {"id": "bench-01", "name": "Bench"},
            "storage": {"path": str(Path(tmp) / "agent.db")},
            "http": {"bind": "127.0.0.1", "port": 0, "public_url": "http://127.0.0.1"},
            "mqtt": {"url": url},
        },
        source=Path(tmp) / "bench.toml",
    )


def _records(count: int) -> list[dict[str, Any]]:
    rng = random.Random(17)
    records = []
    for index in range(1, count + 1):
        record = demo_customer(rng, index, version=1)
        record["consent"] = {"recognition": True, "staff_profile": True}
        records.append(record)
    return records


async def _publish(url: str, records: list[dict[str, Any]]) -> None:
    central = CentralService(url, client_id="bench-central", resend_after_s=None)
    stop = asyncio.Event()
    task = asyncio.create_task(central.run(stop))
    await asyncio.wait_for(central.ready.wait(), 10)
    for record in records:
        central.publish_customer(record)
    central.announce_manifest()
    while not central._outgoing.empty():
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)  # the last PUBACKs
    stop.set()
    await task


@contextlib.contextmanager
def _collector_as_the_daemon_runs() -> Iterator[None]:
    """The daemon's collector settings for the block, CPython's defaults again after it."""
    thresholds = gc.get_threshold()
    tune_garbage_collector()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


def _held(components: Any) -> float:
    sample = components.metrics.registry.get_sample_value("retail_edge_customer_records", {})
    return float(sample or 0)


async def _agent_resync(url: str, count: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        components = build(_config(tmp, url))  # type: ignore[arg-type]
        daemon = assemble(components)
        rss_before = rss_mb()
        peak = rss_before
        started = time.perf_counter()
        await daemon.start()
        with _collector_as_the_daemon_runs():  # as `run_daemon` does: once started
            while _held(components) < count:
                peak = max(peak, rss_mb())
                if time.perf_counter() - started > 300:
                    break
                await asyncio.sleep(0.005)
            elapsed = time.perf_counter() - started
            held = _held(components)
            await daemon.stop()
        return {"s": elapsed, "held": held, "rss_growth": peak - rss_before}


async def _bare_receive(url: str, count: int) -> float:
    host, port = url.removeprefix("mqtt://").split(":")
    received = 0
    # MQTT 5 as the agent speaks it (paho decodes each message's properties: a third of
    # the transport's cost here), acknowledged by paho as each message arrives.
    v5 = aiomqtt.ProtocolVersion.V5
    async with aiomqtt.Client(host, int(port), identifier="bench-bare", protocol=v5) as client:
        started = time.perf_counter()
        await client.subscribe(f"{PREFIX}/chain/customers/+", qos=1)
        async for message in client.messages:
            json.loads(message.payload)  # type: ignore[arg-type]
            received += 1
            if received >= count:
                break
    return time.perf_counter() - started


def _bulk_transaction(records: list[dict[str, Any]]) -> float:
    parsed = [parse_customer_message(json.dumps(r).encode(), r["customer_id"]) for r in records]
    with tempfile.TemporaryDirectory() as tmp:
        database = Database.open(Path(tmp) / "bulk.db", store_id="bench-01")
        repository = CustomerRepository(database)
        now = datetime.now(UTC)
        with _collector_as_the_daemon_runs():
            started = time.perf_counter()
            with database.atomic():
                for message in parsed:
                    assert isinstance(message, CustomerRecord)
                    repository.upsert(message, now)
            elapsed = time.perf_counter() - started
        database.close()
        return elapsed


async def _apply_path(records: list[dict[str, Any]]) -> float:
    """The inbound adapter's handler for customer messages, from the payload bytes to every
    record durable and its reactions done, in batches of the inbound queue's drain size;
    no broker (what the link hands over after receiving)."""
    topic = f"{PREFIX}/chain/customers/"
    items = [(topic + r["customer_id"], json.dumps(r).encode()) for r in records]
    with tempfile.TemporaryDirectory() as tmp:
        components = build(_config(tmp, "mqtt://127.0.0.1:1"))  # type: ignore[arg-type]
        c = components
        adapter = InboundAdapter(c.topics, c.bus.handle, c.clock, c.metrics)
        batch = getattr(adapter, "customers", None)  # absent before issue 17: one by one
        with _collector_as_the_daemon_runs():
            started = time.perf_counter()
            if batch is not None:
                for start in range(0, len(items), DRAIN_MAX):
                    await batch([InboundItem(t, p) for t, p in items[start : start + DRAIN_MAX]])
            else:
                for t, p in items:
                    await adapter.customer(t, p)
            await c.bus.idle()
            elapsed = time.perf_counter() - started
        if _held(c) < len(records):
            raise RuntimeError(f"apply path held {_held(c)} of {len(records)}")
        c.runner.call(c.database.close)
        return elapsed


def _median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def run(quick: bool) -> list[Figure]:
    count = 2_000 if quick else 20_000
    rounds = 1 if quick else 3
    records = _records(count)
    ours: list[dict[str, float]] = []
    bare: list[float] = []
    bulk: list[float] = []
    applied: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        # No per-client queue limit: this measures the replay itself (a small limit sends the
        # agent to the resync pages instead; tests/integration/test_customer_resync.py).
        with MosquittoBroker(workdir=workdir, extra_config="max_queued_messages 0") as broker:
            asyncio.run(_publish(broker.url, records))
            for _ in range(rounds):
                # Alternated, so the machine's load of the moment falls on both sides.
                ours.append(_in_thread(lambda: asyncio.run(_agent_resync(broker.url, count))))
                bare.append(asyncio.run(_bare_receive(broker.url, count)))
                bulk.append(_bulk_transaction(records))
                applied.append(asyncio.run(_apply_path(records)))
    first = ours[0]  # RSS: later rounds reuse what the first one's burst already took
    agent_s = _median([r["s"] for r in ours])
    runs = ", ".join(f"{r['s']:.2f}" for r in ours)
    all_held = all(r["held"] >= count for r in ours)
    note = (
        f"{count} retained records, real mosquitto (max_queued_messages 0), agent as the daemon"
        f" builds it, synchronous=FULL; median of {rounds}; all held: {all_held}; runs {runs} s"
    )
    return [
        figure(
            "customer resync, retained records applied",
            round(agent_s, 2),
            round(_median(bare), 2),
            "s (baseline: bare aiomqtt MQTT 5 subscribe + json.loads of the same records, nothing stored)",
            "< 1 s for 20k",
            note,
        ),
        figure(
            "customer records applied: inbound handler, no broker",
            round(_median(applied), 2),
            round(_median(bulk), 3),
            "s (baseline: the same records upserted by CustomerRepository in one transaction)",
            "< 1 s for 20k",
            f"{count} payloads through InboundAdapter in batches of {DRAIN_MAX} (the link's"
            " drain), parse + version check + upsert + savepoints + fsync + recognition"
            f" reactions; median of {rounds}",
        ),
        figure(
            "customer resync vs one bulk transaction",
            round(agent_s, 2),
            round(_median(bulk), 3),
            "s (baseline: the same records upserted by CustomerRepository in one transaction,"
            " no MQTT)",
            "-",
            note,
        ),
        figure(
            "agent RSS growth during the resync burst",
            round(first["rss_growth"], 1),
            "-",
            "MB (benchmark process, first round: peak during the burst minus before the start;"
            " includes the 20k records' recognition tables)",
            "bounded by the inbound queue",
            note,
        ),
    ]


def _in_thread(fn: Any) -> dict[str, float]:
    """Run in a fresh thread: each agent gets its own event loop and store thread."""
    out: list[dict[str, float]] = []
    thread = threading.Thread(target=lambda: out.append(fn()))
    thread.start()
    thread.join()
    return out[0]


if __name__ == "__main__":
    import sys

    for f in run(quick="--quick" in sys.argv):
        print(f)
