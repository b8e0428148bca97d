"""The agent process pool: worker processes each running many real agents (bootstrap.build +
AgentDaemon) in one event loop, with producers injecting events at the unit of work.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from agent.core import events as ev
from benchmarks.common import rss_mb
from benchmarks.fleet.plan import PREFIX, TICK_S


class Producer:
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


def worker_main(conn: Connection, url: str, stores: list[str], tmp: str) -> None:
    logging.basicConfig(level=logging.WARNING, format="worker %(name)s: %(message)s")
    logging.getLogger("mqtt").setLevel(logging.ERROR)  # aiomqtt: "N pending publish calls"
    asyncio.run(run_worker(conn, url, stores, tmp))


def store_config(store: str, url: str, tmp: str) -> Any:
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


async def run_worker(conn: Connection, url: str, stores: list[str], tmp: str) -> None:
    """Run `stores` real agents in this event loop; obey the parent's commands."""
    from agent.bootstrap import assemble, build
    from agent.daemon import AgentDaemon

    rng = random.Random(stores[0])
    daemons: list[AgentDaemon] = []
    producers: list[Producer] = []
    while True:
        command, *args = await asyncio.to_thread(conn.recv)
        if command == "start":
            rss_before = rss_mb()
            started = time.monotonic()
            for store in stores:
                components = build(store_config(store, url, tmp))
                daemon = assemble(components)
                await daemon.start()
                daemons.append(daemon)
                producers.append(Producer(components, rng))
            await asyncio.gather(*(d.c.link.connected.wait() for d in daemons if d.c.link))
            conn.send((time.monotonic() - started, rss_before, rss_mb()))
        elif command == "customers":
            (expected,) = args
            while not all(customers_held(d) >= expected for d in daemons):
                await asyncio.sleep(0.02)
            conn.send(time.monotonic() - started)
        elif command == "step":
            rate, seconds = args
            await produce_step(producers, rate, seconds)
            conn.send(take_stamps(producers))
        elif command == "drain":
            while any(p.pending for p in producers) or await outbox_depth(daemons):
                await asyncio.sleep(0.05)
            conn.send((take_stamps(producers), {p.store: p.last_seq for p in producers}))
        elif command == "stop":
            await asyncio.gather(*(d.stop() for d in daemons))
            conn.send(rss_mb())
            return


async def outbox_depth(daemons: Sequence[Any]) -> int:
    depth = 0
    for daemon in daemons:
        depth += (await daemon.c.runner.run(daemon.c.outbox.stats)).depth
    return depth


def customers_held(daemon: Any) -> float:
    value = daemon.c.metrics.registry.get_sample_value("retail_edge_customer_records")
    return float(value or 0.0)


async def produce_step(producers: Sequence[Producer], rate: float, seconds: float) -> None:
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


def take_stamps(producers: Sequence[Producer]) -> dict[str, list[tuple[int, float]]]:
    taken = {p.store: p.stamps for p in producers}
    for producer in producers:
        producer.stamps = []
    return taken
