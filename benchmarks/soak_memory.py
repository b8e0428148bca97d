"""The agent's RSS over a long steady load (issue 17: "RSS < 120 MB with all devices simulated,
10k customers and 100 open streams, flat (± 2 MB) over an hour").

The agent runs as its own process (`python -m agent run`), with all four device kinds: BLE
over mqtt-proxy from a private mosquitto, NFC and QR camera simulated, footfall counts over
MQTT, and its sync link to the same broker. 10 000 opted-in customers are seeded before start.
The load, for the whole run: a separate process publishes 2 000 advertisements/s of the
customers' current EIDs (as ESP32 scanners do); this process joins the queue once a second and
opens the new ticket's stream, while a paired tablet calls and serves down to 100 waiting, so
100 ticket-page streams are open at any time (plus the tablet's own), each receiving the
position changes; and a door node's counters every 5 s. (The simulated NFC reader and camera
are driven only from inside the agent's process, by the demo: here they run idle.)

RSS is sampled every 30 s after a 2-minute warm-up; the baseline is the interpreter with the
agent's imports alone, measured as `footprint` does. `python -m benchmarks.soak_memory
--minutes 60`; `--publish` is the publisher's own entry point (a process of its own, so its
work does not land on the measuring loop).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from benchmarks.ble_consumers import TOPIC, seed_customers
from benchmarks.ble_end_to_end import PUBLISH_TOPIC, _records
from benchmarks.common import (
    JOINS_UNLIMITED,
    STORE_HEAD,
    Figure,
    figure,
    keep_no_cookies,
    rss_mb,
)
from simulators.mosquitto import MosquittoBroker

CONFIG = (
    STORE_HEAD
    + JOINS_UNLIMITED
    + """
[mqtt]
url = "mqtt://127.0.0.1:{mqtt_port}"
[occupancy]
capacity = 40
[queues.advice]
label = "Advice"
window_token = "static"
max_waiting = 1000
[[devices]]
kind = "ble"
adapter = "mqtt-proxy"
topic = "{topic}"
[[devices]]
kind = "nfc"
adapter = "simulated"
[[devices]]
kind = "qr-camera"
adapter = "simulated"
[[devices]]
kind = "footfall"
adapter = "mqtt"
door = "main"
"""
)
DOOR_IN = "footfall-main/sensor/people_in/state"
DOOR_OUT = "footfall-main/sensor/people_out/state"
PHONES = 2000  # phones around the scanners, half of them seeded customers'
CHURN = 100  # phones replaced each minute: customers arrive and leave during the hour
BASELINE_CODE = (
    "import agent.daemon, agent.bootstrap\n"
    "print(int(open('/proc/self/status').read().split('VmRSS:')[1].split()[0]) / 1024)"
)


@dataclass(frozen=True)
class Plan:
    customers: int
    streams: int
    warmup_s: float
    duration_s: float
    interval_s: float
    rate: int  # advertisements/s
    footfall_s: float = 5.0


def full_plan(minutes: float) -> Plan:
    return Plan(10_000, 100, 120.0, minutes * 60, 30.0, 2000)


# A few seconds of the same load, for `python -m benchmarks --quick` (the test suite).
QUICK = Plan(200, 10, 0.5, 2.0, 2.0, 500, footfall_s=1.0)


def publish(port: int, rate: int, customers: int) -> None:
    """The scanners' uplink, until SIGTERM: paced bursts every 10 ms, EIDs recomputed each
    minute (they rotate every 1 024 s), CHURN phones replaced each minute. Prints the count."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from agent.core.eddystone import eid_service_data
    from agent.core.eid import compute_eid

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda _signum, _frame: stop.set())
    eids = [r["credentials"]["eid"] for r in _records(customers)]
    keys = [(bytes.fromhex(e["identity_key"]), e["rotation_exponent"], e["epoch"]) for e in eids]
    rng = random.Random(11)

    def phone() -> tuple[str, int | None, bytes]:
        mac = ":".join(f"{rng.randrange(256):02X}" for _ in range(6))
        return mac, rng.randrange(len(keys)) if rng.random() < 0.5 else None, rng.randbytes(8)

    phones = [phone() for _ in range(PHONES)]

    def messages() -> list[bytes]:
        out = []
        for mac, index, stranger in phones:
            eid = stranger
            if index is not None:  # a customer's phone: its EID of the moment
                key, exponent, epoch = keys[index]
                eid = compute_eid(key, exponent, int(time.time()) - epoch)
            data = eid_service_data(-20, eid).hex()
            for rssi in (-90, -78, -66, -58, -52):  # near and far: some arrive, some do not
                doc = {"id": mac, "rssi": rssi, "servicedatauuid": "0xfeaa", "servicedata": data}
                out.append(json.dumps(doc).encode())
        rng.shuffle(out)
        return out

    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.connect("127.0.0.1", port)
    client.loop_start()
    batch, step = messages(), max(1, rate // 100)
    started = rebuilt = time.monotonic()
    sent = 0
    while not stop.is_set():
        if time.monotonic() - rebuilt >= 60:
            for _ in range(CHURN):
                phones[rng.randrange(PHONES)] = phone()
            batch, rebuilt = messages(), time.monotonic()
        for _ in range(step):
            client.publish(PUBLISH_TOPIC, batch[sent % len(batch)], qos=0)
            sent += 1
        pause = started + sent / rate - time.monotonic()
        if pause > 0:
            time.sleep(pause)
    client.loop_stop()
    client.disconnect()
    print(json.dumps({"published": sent}), flush=True)


def metric(text: str, name: str, label: str = "") -> float:
    """Sum of one metric's samples in Prometheus text, optionally only those with `label`."""
    pattern = re.compile(rf"^{name}(\{{[^}}]*\}})? (\S+)$", re.M)
    return sum(float(m[2]) for m in pattern.finditer(text) if label in (m[1] or ""))


@dataclass
class Load:
    """What the load generator did, and the streams it holds open."""

    port: int  # the agent's HTTP port
    token: str  # the queue's window token, as the phones scan it
    code: str  # the tablet's pairing code
    initial: int  # tickets (and their streams) opened before the steady load
    served: int = 0
    failures: int = 0
    frames: int = 0
    streams: dict[str, asyncio.Task[None]] = field(default_factory=dict)


async def hold_stream(load: Load, path: str, auth: str, key: str) -> None:
    """One phone's (or the tablet's) EventSource: read frames until the agent ends the stream
    (the ticket served). A bare socket, so 100 of them cost this process next to nothing."""
    reader, writer = await asyncio.open_connection("127.0.0.1", load.port)
    try:
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {auth}\r\n"
            "Accept: text/event-stream\r\nConnection: close\r\n\r\n".encode()
        )
        while chunk := await reader.read(65536):
            load.frames += chunk.count(b"\n\n")
    except OSError:
        load.failures += 1
    finally:
        writer.close()
        load.streams.pop(key, None)


async def join(client: httpx.AsyncClient, load: Load) -> None:
    body = {"window_token": load.token}
    response = await client.post("/api/v1/queues/advice/tickets", json=body)
    if response.status_code != 201:
        load.failures += 1
        return
    ticket, secret = response.json()["ticket"]["id"], response.json()["secret"]
    path = f"/api/v1/tickets/{ticket}/stream"
    load.streams[ticket] = asyncio.create_task(hold_stream(load, path, f"Ticket {secret}", ticket))


async def call_and_serve(client: httpx.AsyncClient, load: Load, staff: dict[str, str]) -> None:
    called = await client.post("/api/v1/queues/advice/call-next", headers=staff)
    if called.status_code != 200:
        load.failures += 1
        return
    path = f"/api/v1/tickets/{called.json()['id']}/served"
    try:
        served = await client.post(path, headers=staff)
    except httpx.HTTPError:  # once more: a ticket left called would keep its stream open
        load.failures += 1
        served = await client.post(path, headers=staff)
    load.served += served.status_code == 200
    load.failures += served.status_code != 200


async def footfall(port: int, every_s: float, stop: asyncio.Event) -> None:
    """An ESPHome door node: cumulative counters, retained; people leave 30 s after entering."""
    import aiomqtt

    from agent.aio import TCP_NODELAY

    count = 0
    async with aiomqtt.Client("127.0.0.1", port, socket_options=TCP_NODELAY) as door:
        while not stop.is_set():
            count += 1
            await door.publish(DOOR_IN, str(count), qos=1, retain=True)
            await door.publish(DOOR_OUT, str(max(0, count - 6)), qos=1, retain=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every_s)


# Counters read at every sample: the load the agent itself counted, not what was offered.
COUNTED = {
    "advertisements": "retail_edge_ble_advertisements_total",
    "joins": "retail_edge_queue_joins_total",
    "arrivals": "retail_edge_arrivals_total",
    "footfall": "retail_edge_footfall_people_total",
    "synced": "retail_edge_events_published_total",
    "outbox": "retail_edge_outbox_depth",
}


@dataclass
class Sample:
    at_s: float  # since the end of the warm-up
    rss_mb: float
    streams: int  # ticket-page streams open (the tablet's not included)
    served: int
    failures: int
    counted: dict[str, float]


async def one_tick(client: httpx.AsyncClient, load: Load, staff: dict[str, str]) -> None:
    await join(client, load)
    # Served down to `initial` by the queue's own count: a call lost to a network error is
    # made up at the next tick instead of growing the queue for the rest of the run.
    summary = await client.get("/api/v1/queues/advice/summary")
    if summary.status_code != 200:
        raise ValueError(f"summary {summary.status_code} {summary.text[:120]!r}")
    for _ in range(min(3, summary.json()["waiting"] - load.initial)):
        await call_and_serve(client, load, staff)


async def steady(client: httpx.AsyncClient, load: Load, stop: asyncio.Event) -> None:
    """One join and one call + serve a second: the queue and the open streams stay level."""
    paired = await client.post("/api/v1/pair", json={"code": load.code, "device_name": "soak"})
    staff = {"authorization": f"Bearer {paired.json()['token']}"}
    load.streams["staff"] = asyncio.create_task(
        hold_stream(load, "/api/v1/staff/stream", staff["authorization"], "staff")
    )
    for _ in range(load.initial):  # the phones already waiting when the soak starts
        await join(client, load)
    tick = time.monotonic()
    while not stop.is_set():
        try:
            await one_tick(client, load, staff)
        except (httpx.HTTPError, ValueError, KeyError) as exc:  # a bad answer: counted, said
            load.failures += 1
            print(f"{time.strftime('%H:%M:%S')} load tick failed: {exc!r}", flush=True)
        tick += 1.0
        await asyncio.sleep(max(0.0, tick - time.monotonic()))


async def read_metrics(client: httpx.AsyncClient) -> str:
    """One lost read must not end an hour's run: three tries, each failure said."""
    for attempt in range(3):
        try:
            return (await client.get("/metrics")).text
        except httpx.HTTPError as exc:
            print(f"{time.strftime('%H:%M:%S')} /metrics read failed: {exc!r}", flush=True)
            await asyncio.sleep(1.0 + attempt)
    return (await client.get("/metrics")).text


async def soak(plan: Plan, pid: int, load: Load, mqtt_port: int) -> list[Sample]:
    stop = asyncio.Event()
    base = f"http://127.0.0.1:{load.port}"
    # Idle connections dropped after 2 s: the agent closes kept-alive ones after 5 s (uvicorn)
    # and a request sent on one it is closing fails (seen: 93 calls lost in 30 minutes).
    limits = httpx.Limits(max_connections=8, keepalive_expiry=2.0)
    async with httpx.AsyncClient(base_url=base, limits=limits) as client:
        keep_no_cookies(client)
        workers = [
            asyncio.create_task(steady(client, load, stop)),
            asyncio.create_task(footfall(mqtt_port, plan.footfall_s, stop)),
        ]
        await asyncio.sleep(plan.warmup_s)
        samples: list[Sample] = []
        started = time.monotonic()
        while True:
            text = await read_metrics(client)
            at = time.monotonic() - started
            streams = len(load.streams) - ("staff" in load.streams)
            counted = {key: metric(text, name) for key, name in COUNTED.items()}
            counted["queue_full"] = metric(text, COUNTED["advertisements"], "queue_full")
            samples.append(
                Sample(round(at, 1), rss_mb(pid), streams, load.served, load.failures, counted)
            )
            print(json.dumps(samples[-1].__dict__), flush=True)  # a broken run keeps its data
            if at >= plan.duration_s - 0.01:
                break
            next_at = min(len(samples) * plan.interval_s, plan.duration_s)
            await asyncio.sleep(max(0.0, started + next_at - time.monotonic()))
        stop.set()
        await asyncio.gather(*workers)
        for task in load.streams.values():
            task.cancel()
        await asyncio.gather(*load.streams.values(), return_exceptions=True)
    return samples


def slope_per_hour(samples: list[Sample]) -> float:
    """Least-squares slope of RSS against time, MB/hour."""
    xs = [s.at_s / 3600 for s in samples]
    ys = [s.rss_mb for s in samples]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx if sxx else 0.0


def measure(plan: Plan) -> tuple[list[Sample], Load, float, int]:
    from agent.config.loader import load_config
    from agent.core.window_token import WindowTokens
    from agent.store.database import Database
    from agent.store.secrets import window_secret
    from agent.tools import pairing_code
    from simulators.mosquitto import free_port

    # Measured alongside the agent's start-up: the quick form has seconds, not minutes.
    baseline = subprocess.Popen([sys.executable, "-c", BASELINE_CODE], stdout=subprocess.PIPE)
    with (
        tempfile.TemporaryDirectory(prefix="soak-") as tmp,
        MosquittoBroker(persistence=False) as broker,
    ):
        db, config_path, http_port = Path(tmp) / "agent.db", Path(tmp) / "agent.toml", free_port()
        config_path.write_text(
            CONFIG.format(db=db, port=http_port, mqtt_port=broker.port, topic=TOPIC)
        )
        seed_customers(db, _records(plan.customers))
        database = Database.open(db, store_id="bench-01")
        token = WindowTokens(window_secret(database)).static("advice", 1)
        database.close()
        code = pairing_code(load_config(config_path), "soak", "staff")
        log = (Path(tmp) / "agent.log").open("wb")
        agent = subprocess.Popen(
            [sys.executable, "-m", "agent", "--log-level", "WARNING", "run", "-c", str(config_path)],
            stdout=log, stderr=log,
        )  # fmt: skip
        publisher: subprocess.Popen[str] | None = None
        try:
            _wait_healthy(http_port, agent, Path(tmp) / "agent.log")
            publisher = subprocess.Popen(
                [sys.executable, "-m", "benchmarks.soak_memory", "--publish", str(broker.port),
                 str(plan.rate), str(plan.customers)],
                stdout=subprocess.PIPE, text=True,
            )  # fmt: skip
            load = Load(http_port, token, code, plan.streams)
            samples = asyncio.run(soak(plan, agent.pid, load, broker.port))
        finally:
            if publisher is not None:
                publisher.send_signal(signal.SIGTERM)
            died = agent.poll()  # None: still running, as it should be
            agent.send_signal(signal.SIGTERM)
            agent.wait(timeout=30)
            log.close()
            tail = (Path(tmp) / "agent.log").read_text(errors="replace")[-3000:]
            if died is not None or tail:  # the agent's own words, before its directory goes
                print(f"agent exit code before SIGTERM: {died}; log tail:\n{tail}", flush=True)
        assert publisher is not None
        published = json.loads(publisher.communicate(timeout=30)[0])["published"]
    return samples, load, float(baseline.communicate()[0]), int(published)


def _wait_healthy(port: int, agent: subprocess.Popen[bytes], log: Path) -> None:
    """Up, and its sync link connected (the device clients connect at the same moment)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if agent.poll() is not None:
            raise RuntimeError(f"agent exited: {log.read_text()[-2000:]}")
        with contextlib.suppress(httpx.HTTPError):
            health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).json()
            if health.get("mqtt") == "connected":
                return
        time.sleep(0.05)
    raise RuntimeError("agent not healthy and connected within 60 s")


def run(quick: bool, minutes: float = 60.0) -> list[Figure]:
    plan = QUICK if quick else full_plan(minutes)
    samples, load, baseline, published = measure(plan)
    first, last = samples[0], samples[-1]
    rss = [s.rss_mb for s in samples]
    spread, slope = max(rss) - min(rss), slope_per_hour(samples)
    done = {key: last.counted[key] - first.counted[key] for key in first.counted}
    seconds = last.at_s - first.at_s
    span = f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"
    note = (
        f"start {first.rss_mb:.1f}, max {max(rss):.1f}, min {min(rss):.1f}, spread"
        f" {spread:.1f} MB, slope {slope:+.2f} MB/h over {span}, {len(samples)} samples;"
        f" {plan.customers} customers, {last.streams} ticket streams open (+1 staff)"
    )
    load_note = (
        f"same span: {done['joins']:.0f} joins, {last.served - first.served} served,"
        f" {done['arrivals']:.0f} arrival alerts, {done['footfall']:.0f} people counted,"
        f" {done['synced']:.0f} events synced (outbox {last.counted['outbox']:.0f} at the"
        f" end), {done['queue_full']:.0f} queue-full drops; whole run: {published}"
        f" published, {load.frames} stream frames read, {load.failures} failed requests"
    )
    goal = "< 120 MB, flat ± 2 MB over an hour"
    return [
        figure("agent RSS at the end of the soak", round(last.rss_mb, 1), round(baseline, 1),
               "MB (baseline: interpreter + the agent's imports)", goal, note),
        figure("RSS spread / slope after warm-up", f"{spread:.1f} / {slope:+.2f}", "-",
               "MB / MB per hour", "spread <= 4 MB (± 2 MB)", note),
        figure("BLE advertisements the agent counted after warm-up", round(done["advertisements"]),
               round(plan.rate * seconds), f"advertisements (baseline: offered over {span})",
               "all taken in", load_note),
    ]  # fmt: skip


def main() -> None:
    if sys.argv[1:2] == ["--publish"]:
        port, rate, customers = (int(a) for a in sys.argv[2:5])
        publish(port, rate, customers)
        return
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak_memory")
    parser.add_argument("--minutes", type=float, default=60.0, help="measured, after warm-up")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    for f in run(args.quick, args.minutes):
        print(f)


if __name__ == "__main__":
    main()
