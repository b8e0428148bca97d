"""Outbox drain after an offline backlog, to a real mosquitto, against fair peers.

The agent's publisher keeps at most `inflight_window` messages unacknowledged, batches events
into JSON arrays and moves each acknowledged message's rows to the sent log (durably). The
peers send the same envelopes in the same batches with the same window and store nothing: a
windowed paho publisher (MQTT 5, as the agent) and mosquitto's C client `mosquitto_pub`. Each
goes to a fresh broker, and each run ends when the central simulator holds every seq.
(Removed in issue 17: the unwindowed paho loop, which stalled at ~65k of 100k when its
16-bit message ids wrapped, measured a failure mode, not a peer.)
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as mqtt

from agent.bootstrap import Components, assemble, build
from agent.config.loader import parse_config
from agent.core.events import PrivacyErased
from benchmarks.common import Figure, figure, rss_mb
from simulators.central import CentralService
from simulators.mosquitto import MosquittoBroker


def _config(tmp: str, url: str, window: int) -> object:
    return parse_config(
        {
            "store": {"id": "bench-01", "name": "Bench"},
            "storage": {"path": str(Path(tmp) / "agent.db")},
            "http": {"bind": "127.0.0.1", "port": 0, "public_url": "http://127.0.0.1"},
            "mqtt": {"url": url, "inflight_window": window},
        },
        source=Path(tmp) / "bench.toml",
    )


def _append(components: Components, events: list[PrivacyErased]) -> None:
    """A backlog written straight to the outbox on the store thread (before the start)."""
    with components.database.atomic():
        components.outbox.append(events)


async def _agent_drain(url: str, events: int, window: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        components = build(_config(tmp, url, window))  # type: ignore[arg-type]
        bodies = [PrivacyErased(f"c-{i:06d}", 0) for i in range(events)]
        for start in range(0, events, 5000):
            chunk = bodies[start : start + 5000]
            components.runner.call(_append, components, chunk)
        # No resend requests (nothing is lost here), as for the peers' central below.
        central = CentralService(url, client_id="bench-central", resend_after_s=None)
        stop = asyncio.Event()
        central_task = asyncio.create_task(central.run(stop))
        await asyncio.wait_for(central.ready.wait(), 10)
        rss_before = rss_mb()
        daemon = assemble(components)
        started = time.perf_counter()
        await daemon.start()
        ledger = central.ledger("bench-01")
        # Distinct seqs held (cheap to poll; max() over the ledger every 10 ms was not).
        while len(ledger.by_seq) < events + 1:
            await asyncio.sleep(0.01)
        elapsed = time.perf_counter() - started
        assert components.link is not None
        peak = components.link._publisher.peak_inflight
        result = {
            "rate": events / elapsed,
            "peak": float(peak),
            "gaps": float(len(ledger.gaps())),
            "rss_before": rss_before,
            "rss_after": rss_mb(),
            "messages": float(ledger.messages),
        }
        await daemon.stop()
        stop.set()
        await central_task
        return result


def _payloads(store: str, events: int, batch: int) -> list[bytes]:
    """The same envelopes as the agent's outbox writes (compact JSON, one `ts` per append),
    numbered for ``store`` and batched as the publisher batches them (`encode_batch`)."""
    ts = "2026-12-01T09:00:00.000Z"
    bodies = [
        json.dumps(
            {
                "id": str(uuid.uuid4()),
                "store": store,
                "seq": seq,
                "type": "privacy.erased",
                "ts": ts,
                "data": {"customer_id": f"c-{seq:06d}", "records_deleted": 0},
            },
            separators=(",", ":"),
        )
        for seq in range(1, events + 1)
    ]
    return [("[" + ",".join(bodies[i : i + batch]) + "]").encode() for i in range(0, events, batch)]


def _paho_windowed(port: int, topic: str, payloads: list[bytes], window: int) -> None:
    """paho with our window: at most ``window`` QoS 1 messages unacknowledged."""
    free = threading.Semaphore(window)
    done = threading.Event()
    acked = 0

    def on_publish(client: object, userdata: object, mid: int, rc: object, props: object) -> None:
        nonlocal acked
        acked += 1
        free.release()
        if acked == len(payloads):
            done.set()

    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id="bench-paho", protocol=mqtt.MQTTv5
    )
    client.on_publish = on_publish
    client.connect("127.0.0.1", port)
    client.loop_start()
    for payload in payloads:
        free.acquire()
        client.publish(topic, payload, qos=1)
    done.wait(timeout=120)
    client.loop_stop()
    client.disconnect()


def _mosquitto_pub(port: int, topic: str, payloads: list[bytes], window: int) -> None:
    """mosquitto's C client: one message per stdin line, QoS 1, ``window`` in flight."""
    subprocess.run(
        [
            "mosquitto_pub",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-t",
            topic,
            "-q",
            "1",
            "-M",
            str(window),
            "-l",
        ],
        input=b"\n".join(payloads) + b"\n",
        check=True,
        timeout=120,
    )


async def _peer_drain(
    url: str, port: int, store: str, events: int, send: Callable[..., None]
) -> float:
    """Events/s from the first publish until the central simulator holds every seq."""
    payloads = _payloads(store, events, BATCH)
    central = CentralService(url, client_id=f"bench-central-{store}", resend_after_s=None)
    stop = asyncio.Event()
    central_task = asyncio.create_task(central.run(stop))
    await asyncio.wait_for(central.ready.wait(), 10)
    ledger = central.ledger(store)
    topic = f"retail/v1/stores/{store}/events"
    started = time.perf_counter()
    sender = asyncio.create_task(asyncio.to_thread(send, port, topic, payloads, WINDOW))
    while len(ledger.by_seq) < events:
        if sender.done() and sender.exception() is not None:
            await sender  # the publisher failed (no mosquitto_pub, say): say so now
        if time.perf_counter() - started > 120:
            raise RuntimeError(f"{store}: {len(ledger.by_seq)} of {events} events arrived")
        await asyncio.sleep(0.01)
    elapsed = time.perf_counter() - started
    await sender
    stop.set()
    await central_task
    return events / elapsed


WINDOW = 32
BATCH = 200  # [mqtt] batch_max_events' default


def run(quick: bool) -> list[Figure]:
    events = 5_000 if quick else 100_000
    rounds = 1 if quick else 3
    ours: list[dict[str, float]] = []
    paho_rates: list[float] = []
    cli_rates: list[float] = []
    for _ in range(rounds):
        # Alternated, each on a fresh broker, so the machine's load falls on all three.
        with MosquittoBroker(persistence=False) as broker:
            ours.append(asyncio.run(_agent_drain(broker.url, events, WINDOW)))
        with MosquittoBroker(persistence=False) as broker:
            paho_rates.append(
                asyncio.run(
                    _peer_drain(broker.url, broker.port, "bench-paho", events, _paho_windowed)
                )
            )
        with MosquittoBroker(persistence=False) as broker:
            cli_rates.append(
                asyncio.run(
                    _peer_drain(broker.url, broker.port, "bench-cli", events, _mosquitto_pub)
                )
            )
    median = sorted(ours, key=lambda r: r["rate"])[len(ours) // 2]
    rate = round(median["rate"])
    note = (
        f"{events} events backlog, window {WINDOW}, {median['messages']:.0f} messages of up to"
        f" {BATCH} events, gaps {median['gaps']:.0f}; median of {rounds} alternated runs, each"
        " until the central simulator holds every seq (peers: the same envelopes, batched the"
        " same way, to the same kind of fresh broker and central)"
    )
    return [
        figure(
            "outbox drain to mosquitto",
            rate,
            round(sorted(paho_rates)[len(paho_rates) // 2]),
            f"events/s (baseline: paho, MQTT 5, the same {BATCH}-event payloads, {WINDOW} in"
            " flight; nothing stored)",
            ">= 5000/s",
            note,
        ),
        figure(
            "outbox drain vs mosquitto_pub",
            rate,
            round(sorted(cli_rates)[len(cli_rates) // 2]),
            f"events/s (baseline: mosquitto_pub -l -q 1 -M {WINDOW}, the same payloads)",
            "-",
            note,
        ),
        figure(
            "unacknowledged messages, peak",
            int(median["peak"]),
            WINDOW,
            "messages (baseline: the window)",
            f"<= {WINDOW} (never exceeded)",
            note,
        ),
        figure(
            "benchmark process RSS with backlog / after drain",
            f"{median['rss_before']:.0f} / {median['rss_after']:.0f}",
            "-",
            "MB (benchmark process: agent + central simulator)",
            "-",
            "agent and central simulator in one process; the central side holds every event it "
            "received. The agent's own RSS with a 100k backlog is in footprint",
        ),
    ]


if __name__ == "__main__":
    import sys

    for f in run(quick="--quick" in sys.argv):
        print(f)
