"""Fleet simulation: hundreds of real agents against one mosquitto, central on shared subscriptions.

What is real:

- every store is a real agent: `agent.bootstrap.build()` and `AgentDaemon.start()/stop()`, so
  each has its own SQLite database (WAL, `synchronous=FULL`, migrations, `seq` counter), its own
  outbox, publisher with its in-flight window, `MqttLink` with its own MQTT 5 session (client id
  `retail-edge-{store}`), Last Will, retained `online`/`offline` status, the subscriptions to
  customers, check-ins and resend requests, its HTTP server (on port 0) and its timers;
- the broker is a private mosquitto (`simulators.mosquitto`) on a free loopback port;
- the central side is 2 MQTT 5 clients in one shared-subscription group,
  `$share/central/{p}/stores/+/events`, each in its own process, each deduplicating by `id` and
  checking `seq` per store; the parent merges their ledgers (with a shared subscription a
  store's messages are spread over the group, so gaps can only be judged on the union, as a
  real central service does in its database);
- customer records: M retained records are on the broker before the stores connect, so each
  store's connect is the contract's full resync (N x M deliveries, each applied in SQLite).

What is not:

- many agents share a process: `stores / workers` agents (50 in the full run) run in one event
  loop per worker process, each with its own store thread as in the agent. A store's own
  process would cost ~70 MB; here an extra agent costs ~1 MB, which is what makes 200 stores
  fit on one small machine. They also share its 2 cores with the broker and the central side;
- events are injected at the unit of work (`uow.submit`, where the services hand over a
  decision) with a mix of contract event types, not produced by radios, cameras or tablets.
  The nominal rate, 1 event/s per store, is our assumption for a busy store at its peak;
- the SQLite files are on tmpfs (`/dev/shm`): every statement runs, but an fsync costs nothing.
  In the field each store fsyncs its own disk; here 200 stores would share one virtual disk and
  the benchmark would measure that disk instead of the broker;
- all clients are on loopback (no WAN latency, no TLS); mosquitto runs without persistence and
  with `max_queued_messages` raised (its default of 1000 per client drops QoS 1 messages queued
  for a consumer that lags).

Measured: per offered rate (events/s per store, ramped until fewer than 95 % of the offered
events arrive or p99 passes 1 s), the events/s and messages/s the central side received,
latency from the event's append in the agent's commit transaction to its receipt by a central
consumer (p50/p99; CLOCK_MONOTONIC is shared by all processes), the CPU of the broker, the
agents and the consumers, the broker's RSS (`/proc/{pid}`), gaps/duplicates/conflicts over the
whole run, the start-up (connect and retained-record resync) and the memory per agent.
Baselines in the same run, through the same broker: bare aiomqtt clients publishing one event
per QoS 1 message (window 32, as the agent) to the same consumer group, flat out and paced at
the fleet's nominal rate; and mosquitto's own C clients flat out (`mosquitto_pub -l` into a
`mosquitto_sub` group), which load the broker far harder than Python clients can.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import multiprocessing
import os
import random
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import aiomqtt
import paho.mqtt.client as paho_mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from agent.aio import TCP_NODELAY, cancel_and_wait
from agent.core import events as ev
from benchmarks.common import Figure, figure, percentile, rss_mb
from simulators.customers import demo_customer
from simulators.mosquitto import MosquittoBroker

PREFIX = "retail/v1"
GROUP = "central"
CONSUMERS = 2
BARE_PROCESSES = 2
BARE_CLIENTS = 8  # per bare process
WINDOW = 32  # the agent's default `inflight_window`
TICK_S = 0.02  # producers' schedule granularity
SUSTAINED_SHARE = 0.95  # a step is sustained if >= 95 % of the offered events arrive in time
P99_LIMIT_MS = 1000.0  # ... with p99 under this (the ramp stops at the first step that is not)
P99_KNEE_MS = 100.0  # the latency knee: the last step before queueing shows in p99
# mosquitto's default max_queued_messages (1000 per client) silently drops QoS 1 messages
# queued for a consumer that lags; a central broker needs a deeper queue.
BROKER_CONFIG = "max_queued_messages 1000000"
SPAWN = multiprocessing.get_context("spawn")
TMPFS = Path("/dev/shm")  # noqa: S108 - mkdtemp makes a private directory in it
SAMPLE_EVENT = {
    "id": "6f1c2e0a-8a3b-4d1e-9f57-0b5c1d2e3f40",
    "store": "store-0001",
    "seq": 42,
    "type": "queue.joined",
    "ts": "2026-01-05T10:00:00.000Z",
    "data": {"queue": "advice", "ticket_id": "t-000042", "number": 42},
}


@dataclass(frozen=True)
class Plan:
    stores: int
    workers: int  # processes the stores are spread over
    customers: int
    rates: tuple[float, ...]  # events/s per store, one ramp step each
    step_s: float
    settle_s: float  # start of each step left out of its figures
    bare_s: float
    c_messages: int  # broker headroom run with mosquitto's C clients


FULL = Plan(200, 4, 50, (1, 2, 4, 6, 8, 12, 16, 24, 32), 10.0, 2.0, bare_s=8.0, c_messages=200_000)
QUICK = Plan(20, 2, 10, (1, 10, 40), 4.0, 1.0, bare_s=3.0, c_messages=40_000)


# --- child processes --------------------------------------------------------------------------


def _consumer_main(conn: Connection, port: int, index: int) -> None:
    asyncio.run(_consume(conn, port, index))


async def _consume(conn: Connection, port: int, index: int) -> None:
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


class _Producer:
    """One store's event source: a realistic mix of contract events, stamped at append time."""

    def __init__(self, components: Any, rng: random.Random) -> None:
        self.c = components
        self.store = components.config.store.id
        self.acc = rng.random()  # spreads the stores' events over the tick
        self.n = 0
        self.stamps: list[tuple[int, float]] = []  # (seq, monotonic time of the append)
        self.pending = 0
        self.last_seq = 0

    def produce(self, count: int) -> None:
        for _ in range(count):
            future = self.c.uow.submit(self._work(self._event()))
            self.pending += 1
            future.add_done_callback(self._done)

    def _work(self, event: Any) -> Callable[[], tuple[tuple[int, float], list[Any]]]:
        database = self.c.database

        def work() -> tuple[tuple[int, float], list[Any]]:
            # Runs on the store thread inside the commit's transaction, right before the
            # outbox appends the event: this is the seq it gets.
            seq = int(database.meta("next_seq") or 1)
            return (seq, time.monotonic()), [event]

        return work

    def _done(self, future: asyncio.Future[tuple[int, float]]) -> None:
        self.pending -= 1
        seq, at = future.result()
        self.stamps.append((seq, at))
        self.last_seq = max(self.last_seq, seq)

    def _event(self) -> ev.DomainEvent:
        i, self.n = self.n, self.n + 1
        ticket, number = f"t-{i // 6:06d}", i // 6 + 1
        visit, customer = f"v-{i // 6:06d}", f"c-{i % 50:05d}"
        kind = i % 6
        if kind == 0:
            return ev.QueueJoined("advice", ticket, number)
        if kind == 1:
            return ev.QueueCalled("advice", ticket, number)
        if kind == 2:
            return ev.QueueServed("advice", ticket, number, wait_s=312.5, service_s=240.0)
        if kind == 3:
            return ev.VisitArrived(visit, customer, "ble")
        if kind == 4:
            return ev.VisitLeft(visit, customer, dwell_s=1260.0)
        stamp = "2026-01-05T10:00:00.000Z"
        return ev.FootfallCounted("main", 14, 11, stamp, "2026-01-05T10:05:00.000Z")


def _worker_main(conn: Connection, url: str, stores: list[str], tmp: str) -> None:
    logging.basicConfig(level=logging.WARNING, format="worker %(name)s: %(message)s")
    logging.getLogger("mqtt").setLevel(logging.ERROR)  # aiomqtt: "N pending publish calls"
    asyncio.run(_work(conn, url, stores, tmp))


def _config(store: str, url: str, tmp: str) -> Any:
    from agent.config.loader import parse_config

    return parse_config(
        {
            "store": {"id": store, "name": store},
            "storage": {"path": f"{tmp}/{store}/agent.db"},
            "http": {"bind": "127.0.0.1", "port": 0, "public_url": "http://127.0.0.1"},
            "mqtt": {"url": url, "topic_prefix": PREFIX},
        },
        source=Path(tmp) / f"{store}.toml",
    )


async def _work(conn: Connection, url: str, stores: list[str], tmp: str) -> None:
    """Run `stores` real agents in this event loop; obey the parent's commands."""
    from agent.bootstrap import build
    from agent.daemon import AgentDaemon

    rng = random.Random(stores[0])
    daemons: list[AgentDaemon] = []
    producers: list[_Producer] = []
    while True:
        command, *args = await asyncio.to_thread(conn.recv)
        if command == "start":
            rss_before = rss_mb()
            started = time.monotonic()
            for store in stores:
                components = build(_config(store, url, tmp))
                daemon = AgentDaemon(components)
                await daemon.start()
                daemons.append(daemon)
                producers.append(_Producer(components, rng))
            await asyncio.gather(*(d.c.link.connected.wait() for d in daemons if d.c.link))
            conn.send((time.monotonic() - started, rss_before, rss_mb()))
        elif command == "customers":
            (expected,) = args
            while not all(_customers_held(d) >= expected for d in daemons):
                await asyncio.sleep(0.02)
            conn.send(time.monotonic() - started)
        elif command == "step":
            rate, seconds = args
            await _produce(producers, rate, seconds)
            conn.send(_take_stamps(producers))
        elif command == "drain":
            while any(p.pending for p in producers) or await _outbox_depth(daemons):
                await asyncio.sleep(0.05)
            conn.send((_take_stamps(producers), {p.store: p.last_seq for p in producers}))
        elif command == "stop":
            await asyncio.gather(*(d.stop() for d in daemons))
            conn.send(rss_mb())
            return


async def _outbox_depth(daemons: Sequence[Any]) -> int:
    depth = 0
    for daemon in daemons:
        depth += (await daemon.c.runner.run(daemon.c.outbox.stats)).depth
    return depth


def _customers_held(daemon: Any) -> float:
    value = daemon.c.metrics.registry.get_sample_value("retail_edge_customer_records")
    return float(value or 0.0)


async def _produce(producers: Sequence[_Producer], rate: float, seconds: float) -> None:
    """Open loop: events come at `rate` per store whether or not the agents keep up."""
    started = last = time.monotonic()
    while (now := time.monotonic()) < started + seconds:
        elapsed, last = now - last, now
        for producer in producers:
            producer.acc += rate * elapsed
            due = int(producer.acc)
            if due:
                producer.acc -= due
                producer.produce(due)
        await asyncio.sleep(TICK_S)


def _take_stamps(producers: Sequence[_Producer]) -> dict[str, list[tuple[int, float]]]:
    taken = {p.store: p.stamps for p in producers}
    for producer in producers:
        producer.stamps = []
    return taken


def _bare_main(conn: Connection, port: int, first: int) -> None:
    logging.getLogger("mqtt").setLevel(logging.ERROR)  # aiomqtt: "N pending publish calls"
    asyncio.run(_bare(conn, port, first))


class _BareClient:
    """Baseline publisher: a bare aiomqtt client, one contract-sized event per QoS 1 message."""

    def __init__(self, name: str, client: aiomqtt.Client) -> None:
        self.name = name
        self.client = client
        self.topic = f"{PREFIX}/stores/{name}/events"
        self.seq = 0
        self.stamps: list[tuple[int, float]] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def publish(self) -> None:
        self.seq += 1
        seq = self.seq
        body = json.dumps(
            {
                "id": f"{self.name}-{seq}",
                "store": self.name,
                "seq": seq,
                "type": "queue.joined",
                "ts": "2026-01-05T10:00:00.000Z",
                "data": {"queue": "advice", "ticket_id": f"t-{seq:06d}", "number": seq},
            },
            separators=(",", ":"),
        )
        at = time.monotonic()
        await self.client.publish(self.topic, body, qos=1)
        self.stamps.append((seq, at))

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def flat_out(self, until: float) -> None:
        """As fast as the broker acknowledges, at most WINDOW unacknowledged (like the agent)."""
        window = asyncio.Semaphore(WINDOW)

        async def one() -> None:
            try:
                await self.publish()
            finally:
                window.release()

        while time.monotonic() < until:
            await window.acquire()
            self._spawn(one())
        await asyncio.gather(*self._tasks)

    async def paced(self, rate: float, until: float) -> None:
        acc, last = random.random(), time.monotonic()
        while (now := time.monotonic()) < until:
            acc, last = acc + rate * (now - last), now
            while acc >= 1:
                acc -= 1
                self._spawn(self.publish())
            await asyncio.sleep(TICK_S)
        await asyncio.gather(*self._tasks)


async def _bare(conn: Connection, port: int, first: int) -> None:
    async with contextlib.AsyncExitStack() as stack:
        clients = []
        for i in range(BARE_CLIENTS):
            name = f"bare-{first + i:03d}"
            client = aiomqtt.Client(
                "127.0.0.1",
                port,
                identifier=name,
                protocol=aiomqtt.ProtocolVersion.V5,
                timeout=30,
                socket_options=TCP_NODELAY,
            )
            clients.append(_BareClient(name, await stack.enter_async_context(client)))
        conn.send("ready")
        while True:
            command, *args = await asyncio.to_thread(conn.recv)
            if command == "stop":
                break
            rate, seconds = args
            until = time.monotonic() + seconds
            if rate is None:
                await asyncio.gather(*(c.flat_out(until) for c in clients))
            else:
                await asyncio.gather(*(c.paced(rate, until) for c in clients))
            conn.send({c.name: c.stamps for c in clients})
            for c in clients:
                c.stamps = []
    conn.send("stopped")


# --- the parent: orchestration and measurement ------------------------------------------------


def _cpu_ticks(pid: int | None = None) -> float:
    """utime + stime of a process, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return float(sum(values) - idle), float(sum(values))


def _vm(pid: int, key: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


@dataclass
class _Cpu:
    """CPU use of named process groups between `start()` and `stop()`, in % of one core."""

    groups: dict[str, list[int]]
    began: float = 0.0
    ticks: dict[str, float] = field(default_factory=dict)
    machine: tuple[float, float] = (0.0, 0.0)

    def start(self) -> None:
        self.began = time.monotonic()
        self.ticks = {name: self._ticks(pids) for name, pids in self.groups.items()}
        self.machine = _machine_busy()

    def stop(self) -> dict[str, float]:
        elapsed = time.monotonic() - self.began
        used = {
            name: 100 * (self._ticks(pids) - self.ticks[name]) / elapsed
            for name, pids in self.groups.items()
        }
        busy, total = _machine_busy()
        used["machine"] = 100 * (busy - self.machine[0]) / max(1.0, total - self.machine[1])
        return used

    @staticmethod
    def _ticks(pids: list[int]) -> float:
        return sum(_cpu_ticks(pid) for pid in pids)


@dataclass
class _Ledger:
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


class _Child:
    def __init__(self, name: str, target: Callable[..., None], *args: object) -> None:
        self.conn, child_end = SPAWN.Pipe()
        self.process: BaseProcess = SPAWN.Process(
            target=target, args=(child_end, *args), name=name, daemon=True
        )
        self.process.start()
        child_end.close()

    @property
    def pid(self) -> int:
        assert self.process.pid is not None
        return self.process.pid

    def send(self, *message: object) -> None:
        self.conn.send(message)

    def reply(self, timeout: float = 120.0) -> Any:
        if not self.conn.poll(timeout):
            raise TimeoutError(f"{self.process.name} did not answer within {timeout:.0f} s")
        return self.conn.recv()

    def end(self) -> None:
        self.process.join(timeout=10)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(timeout=5)


def _publish_customers(port: int, count: int) -> None:
    rng = random.Random(7)
    client = paho_mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id="central-records",
        protocol=paho_mqtt.MQTTv5,
    )
    client.connect("127.0.0.1", port)
    client.loop_start()
    infos = [
        client.publish(
            f"{PREFIX}/chain/customers/c-{i:05d}",
            json.dumps(demo_customer(rng, i)).encode(),
            qos=1,
            retain=True,
        )
        for i in range(count)
    ]
    for info in infos:
        info.wait_for_publish(timeout=30)
    client.disconnect()
    client.loop_stop()


def _ask_all(children: Sequence[_Child], *message: object, timeout: float = 120.0) -> list[Any]:
    for child in children:
        child.send(*message)
    return [child.reply(timeout) for child in children]


def _collect(consumers: Sequence[_Child], ledger: _Ledger) -> None:
    for index, reply in enumerate(_ask_all(consumers, "collect")):
        ledger.add_received(index, reply)


@dataclass
class _Step:
    rate: float
    offered: float
    start: float
    end: float
    cpu: dict[str, float]
    broker_rss: float
    stats: dict[str, float] = field(default_factory=dict)

    def sustained(self, p99_ms: float = P99_LIMIT_MS) -> bool:
        s = self.stats
        return (
            s["delivered"] >= SUSTAINED_SHARE * self.offered
            and s["sent"] >= SUSTAINED_SHARE * self.offered
            and s["p99"] <= p99_ms
        )


def _c_clients(plan: Plan, port: int, broker_pid: int, tmp: str) -> dict[str, float] | None:
    """Broker headroom: mosquitto's own C clients flat out, no Python in the message path.

    8 `mosquitto_pub -l` (QoS 1, 32 in flight each) publish contract-sized events; 2
    `mosquitto_sub` share one group on another prefix, so the central consumers see nothing.
    """
    pub, sub = shutil.which("mosquitto_pub"), shutil.which("mosquitto_sub")
    if pub is None or sub is None:
        return None
    publishers, per = 8, plan.c_messages // 8
    common = ["-h", "127.0.0.1", "-p", str(port), "-V", "5", "-q", "1"]
    lines = Path(tmp) / "c-lines.txt"
    lines.write_bytes((json.dumps(SAMPLE_EVENT, separators=(",", ":")) + "\n").encode() * per)
    outputs = [Path(tmp) / f"c-sub-{i}.txt" for i in range(2)]
    subs = []
    for i, output in enumerate(outputs):
        with output.open("wb") as out:
            subs.append(
                subprocess.Popen(
                    [sub, *common, "-t", "$share/cbench/bench/stores/+/events", "-i", f"c-sub-{i}"],
                    stdout=out,
                )
            )
    time.sleep(1.0)  # subscribed
    cpu = _Cpu({"broker": [broker_pid]})
    cpu.start()
    started = time.monotonic()
    pubs = []
    for i in range(publishers):
        with lines.open("rb") as source:
            pubs.append(
                subprocess.Popen(
                    [pub, *common, "-l", "-M", str(WINDOW), "-t", f"bench/stores/c-{i}/events"],
                    stdin=source,
                )
            )
    for process in pubs:
        process.wait(timeout=120)
    received, last_change = 0, time.monotonic()
    while time.monotonic() - last_change < 0.5:  # until the subscribers stop receiving
        time.sleep(0.05)
        count = sum(output.read_bytes().count(b"\n") for output in outputs)
        if count != received:
            received, last_change = count, time.monotonic()
    used = cpu.stop()
    for process in subs:
        process.terminate()
        process.wait(timeout=10)
    elapsed = last_change - started
    scale = (time.monotonic() - started) / elapsed  # the CPU was used before the last receipt
    return {
        "rate": received / elapsed,
        "received": float(received),
        "sent": float(per * publishers),
        "broker_cpu": used["broker"] * scale,
        "machine": min(100.0, used["machine"] * scale),
    }


def _baseline(
    plan: Plan, port: int, consumers: list[_Child], ledger: _Ledger, broker_pid: int
) -> dict[str, Any]:
    bare = [_Child(f"bare-{i}", _bare_main, port, i * BARE_CLIENTS) for i in range(BARE_PROCESSES)]
    try:
        for child in bare:
            if child.reply(60) != "ready":
                raise RuntimeError("bare publisher did not start")
        cpu = _Cpu(
            {
                "broker": [broker_pid],
                "publishers": [c.pid for c in bare],
                "central": [c.pid for c in consumers],
            }
        )
        results: dict[str, Any] = {}
        # Paced at the fleet's nominal rate (1 event/s per store), then flat out.
        nominal = plan.stores * plan.rates[0] / (BARE_PROCESSES * BARE_CLIENTS)
        for phase, rate in (("paced", nominal), ("flat", None)):
            cpu.start()
            start = time.monotonic()
            for stamps in _ask_all(bare, "run", rate, plan.bare_s):
                ledger.add_sent(stamps)
            end = time.monotonic()
            results[phase + "_cpu"] = cpu.stop()
            time.sleep(0.5)
            _collect(consumers, ledger)
            results[phase] = ledger.window(start + plan.settle_s, end, "bare-")
        results["broker_rss"] = rss_mb(broker_pid)
        _ask_all(bare, "stop")
        return results
    finally:
        for child in bare:
            child.end()


def _fleet(
    plan: Plan, broker: Any, consumers: list[_Child], ledger: _Ledger, tmp: str
) -> dict[str, Any]:
    port, broker_pid = broker.port, broker.process.pid
    stores = [f"store-{i:04d}" for i in range(plan.stores)]
    _publish_customers(port, plan.customers)
    chunks = [stores[i :: plan.workers] for i in range(plan.workers)]
    workers = [
        _Child(f"worker-{i}", _worker_main, broker.url, chunk, tmp)
        for i, chunk in enumerate(chunks)
    ]
    out: dict[str, Any] = {"workers": len(workers)}
    try:
        started = _ask_all(workers, "start", timeout=300)
        out["connect_s"] = max(s[0] for s in started)
        out["worker_rss"] = [(s[1], s[2]) for s in started]
        resynced = _ask_all(workers, "customers", plan.customers, timeout=300)
        out["resync_s"] = max(resynced)
        out["broker_rss_connected"] = rss_mb(broker_pid)
        cpu = _Cpu(
            {
                "broker": [broker_pid],
                "agents": [w.pid for w in workers],
                "central": [c.pid for c in consumers],
            }
        )
        steps: list[_Step] = []
        for rate in plan.rates:
            cpu.start()
            start = time.monotonic()
            for stamps in _ask_all(workers, "step", rate, plan.step_s):
                ledger.add_sent(stamps)
            end = time.monotonic()
            step = _Step(rate, rate * plan.stores, start, end, cpu.stop(), rss_mb(broker_pid))
            time.sleep(1.0)
            _collect(consumers, ledger)
            step.stats = ledger.window(start + plan.settle_s, end, "store-")
            steps.append(step)
            print(
                f"[fleet] {rate:g} ev/s/store: offered {step.offered:.0f}, delivered "
                f"{step.stats['delivered']:.0f} ev/s, p99 {step.stats['p99']:.0f} ms, broker "
                f"{step.cpu['broker']:.0f}% CPU",
                flush=True,
            )
            if not step.sustained():
                break
        last_seq: dict[str, int] = {}
        for stamps, seqs in _ask_all(workers, "drain", timeout=300):
            ledger.add_sent(stamps)
            last_seq.update(seqs)
        deadline = time.monotonic() + 120
        while True:
            _collect(consumers, ledger)
            missing = ledger.gaps(last_seq)
            if not missing or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        # Final figures: every event has arrived now, so latencies are exact.
        for step in steps:
            step.stats = ledger.window(step.start + plan.settle_s, step.end, "store-")
        out["gaps"] = missing
        out["events"] = sum(last_seq.values())
        out["steps"] = steps
        out["broker_hwm"] = _vm(broker_pid, "VmHWM")
        out["stop_rss"] = _ask_all(workers, "stop", timeout=120)
        return out
    finally:
        for worker in workers:
            worker.end()


def run(quick: bool) -> list[Figure]:
    plan = QUICK if quick else FULL
    tmp = tempfile.mkdtemp(prefix="retail-edge-fleet-", dir=TMPFS if TMPFS.is_dir() else None)
    ledger = _Ledger()
    consumers: list[_Child] = []
    try:
        with MosquittoBroker(persistence=False, extra_config=BROKER_CONFIG) as broker:
            assert broker.process is not None
            broker_pid = broker.process.pid
            consumers = [
                _Child(f"central-{i}", _consumer_main, broker.port, i) for i in range(CONSUMERS)
            ]
            for child in consumers:
                if child.reply(60) != "ready":
                    raise RuntimeError("central consumer did not start")
            base = _baseline(plan, broker.port, consumers, ledger, broker_pid)
            fleet = _fleet(plan, broker, consumers, ledger, tmp)
            base["c"] = _c_clients(plan, broker.port, broker_pid, tmp)
            _collect(consumers, ledger)
            _ask_all(consumers, "stop")
    finally:
        for child in consumers:
            child.end()
        shutil.rmtree(tmp, ignore_errors=True)
    return _figures(plan, base, fleet, ledger)


def _last_sustained(steps: Sequence[_Step], p99_ms: float) -> _Step | None:
    """The last step of the ramp before the first one that was not sustained."""
    last = None
    for step in steps:
        if not step.sustained(p99_ms):
            break
        last = step
    return last


def _figures(
    plan: Plan, base: dict[str, Any], fleet: dict[str, Any], ledger: _Ledger
) -> list[Figure]:
    steps: list[_Step] = fleet["steps"]
    ceiling = _last_sustained(steps, P99_LIMIT_MS)
    knee = _last_sustained(steps, P99_KNEE_MS)
    peak = max(steps, key=lambda s: s.stats["delivered"])
    nominal = steps[0]
    flat, paced, fc = base["flat"], base["paced"], base["flat_cpu"]
    duplicates, conflicts, malformed = ledger.totals()
    base_gaps = sum(
        1
        for (store, _seq) in ledger.sent
        if store.startswith("bare-") and (store, _seq) not in ledger.received
    )
    fleet_sets = [
        {s for s in stores if s.startswith("store-")}
        for stores in ledger.stores_per_consumer.values()
    ]
    split = len(set.intersection(*fleet_sets)) if fleet_sets else 0
    where = (
        f"{plan.stores} stores in {plan.workers} worker processes, {CONSUMERS} consumers in "
        f"$share/{GROUP}, 2 vCPU"
    )

    def at(step: _Step | None, limit: float) -> tuple[str | int, str]:
        if step is None:
            return "none", f"no step had p99 <= {limit:.0f} ms; {where}"
        s = step.stats
        return round(s["delivered"]), (
            f"{step.rate:g} ev/s per store offered, {s['messages']:.0f} messages/s, p50/p99 "
            f"{s['p50']:.1f}/{s['p99']:.1f} ms, broker {step.cpu['broker']:.0f}% of a core, "
            f"agents {step.cpu['agents']:.0f}%; {where}"
        )

    figures = [
        figure(
            f"fleet: latency knee (last step with p99 <= {P99_KNEE_MS:.0f} ms)",
            at(knee, P99_KNEE_MS)[0],
            round(flat["delivered"]),
            "events/s delivered (baseline: bare aiomqtt QoS 1, 1 event/message, flat out)",
            f">= {plan.stores} (every store at 1 event/s)",
            at(knee, P99_KNEE_MS)[1],
        ),
        figure(
            f"fleet: throughput ceiling (last step with p99 <= {P99_LIMIT_MS:.0f} ms)",
            at(ceiling, P99_LIMIT_MS)[0],
            round(flat["delivered"]),
            "events/s delivered (baseline as above)",
            "-",
            at(ceiling, P99_LIMIT_MS)[1],
        ),
        figure(
            "fleet: peak delivered throughput",
            round(peak.stats["delivered"]),
            round(flat["delivered"]),
            "events/s (baseline as above)",
            "-",
            f"at {peak.rate:g} ev/s per store offered ({peak.offered:.0f}/s), "
            f"{peak.stats['messages']:.0f} messages/s; baseline {flat['messages']:.0f} messages/s, "
            f"CPU % of a core: broker {fc['broker']:.0f}, publishers {fc['publishers']:.0f}, "
            f"central {fc['central']:.0f}; machine {fc['machine']:.0f}% busy",
        ),
        figure(
            "fleet: latency p50 / p99 at 1 event/s per store",
            f"{nominal.stats['p50']:.1f} / {nominal.stats['p99']:.1f}",
            f"{paced['p50']:.1f} / {paced['p99']:.1f}",
            "ms, append in the agent's commit -> central receipt (baseline: bare publish -> "
            "receipt, same total rate)",
            f"p99 <= {P99_LIMIT_MS:.0f} ms",
            f"{nominal.offered:.0f} events/s offered",
        ),
    ]
    for step in steps:
        s = step.stats
        figures.append(
            figure(
                f"fleet step {step.rate:g} ev/s/store",
                round(s["delivered"]),
                round(step.offered),
                "events/s delivered (baseline: offered)",
                "sustained: >= 95% delivered, p99 <= 1 s",
                f"{s['messages']:.0f} msg/s, p50/p99 {s['p50']:.1f}/{s['p99']:.1f} ms, CPU % of "
                f"a core: broker {step.cpu['broker']:.0f}, agents {step.cpu['agents']:.0f}, "
                f"central {step.cpu['central']:.0f}; machine {step.cpu['machine']:.0f}% busy; "
                f"broker RSS {step.broker_rss:.1f} MB; "
                + ("sustained" if step.sustained() else "NOT sustained"),
            )
        )
    figures += [
        figure(
            "fleet: gaps / duplicates / conflicts",
            f"{fleet['gaps']} / {duplicates} / {conflicts}",
            f"{base_gaps} / - / -",
            "events (union of the consumer group; baseline: bare clients' gaps)",
            "0 gaps, 0 conflicts",
            f"{fleet['events']} events from {plan.stores} stores; malformed {malformed}; "
            f"{split} stores' events were spread over all {CONSUMERS} consumers",
        ),
        figure(
            "broker RSS: fleet connected / peak",
            f"{fleet['broker_rss_connected']:.1f} / {fleet['broker_hwm']:.1f}",
            round(base["broker_rss"], 1),
            "MB (baseline: after the bare runs)",
            "-",
            f"{plan.stores} sessions, {plan.customers} retained customer records",
        ),
        figure(
            "fleet start: all agents connected / all hold every customer record",
            f"{fleet['connect_s']:.1f} / {fleet['resync_s']:.1f}",
            "-",
            "s after the start command (slowest worker)",
            "-",
            f"resync = {plan.stores} x {plan.customers} = {plan.stores * plan.customers} "
            "retained deliveries, each applied in SQLite",
        ),
    ]
    before, after = zip(*fleet["worker_rss"], strict=True)
    per_agent = (sum(after) - sum(before)) / plan.stores
    figures.append(
        figure(
            "memory per simulated agent",
            round(per_agent, 2),
            round(before[0], 1),
            "MB (baseline: a worker process before its first agent)",
            "-",
            f"worker RSS {min(after):.0f}-{max(after):.0f} MB for {plan.stores // plan.workers}"
            " agents",
        )
    )
    c = base["c"]
    if c is not None:
        figures.append(
            figure(
                "broker headroom: mosquitto's C clients flat out",
                round(c["rate"]),
                round(flat["messages"]),
                "QoS 1 messages/s through the broker (baseline: bare aiomqtt, flat out)",
                "-",
                f"8 mosquitto_pub -l -> 2 mosquitto_sub in one $share group; broker "
                f"{c['broker_cpu']:.0f}% of a core, machine {c['machine']:.0f}% busy; "
                f"received {c['received']:.0f} of {c['sent']:.0f}",
            )
        )
    return figures


if __name__ == "__main__":
    import sys

    for f in run(quick="--quick" in sys.argv):
        print(f)
