"""Baselines through the same broker: bare aiomqtt publishers (one event per QoS 1 message,
window 32) paced and flat out, and mosquitto's own C clients flat out (broker headroom).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import shutil
import subprocess
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import aiomqtt

from agent.aio import TCP_NODELAY
from benchmarks.common import rss_mb
from benchmarks.fleet.central import Ledger, collect_ledgers
from benchmarks.fleet.plan import (
    BARE_CLIENTS,
    BARE_PROCESSES,
    PREFIX,
    SAMPLE_EVENT,
    TICK_S,
    WINDOW,
    Plan,
)
from benchmarks.fleet.processes import Child, Cpu, ask_all


def bare_main(conn: Connection, port: int, first: int) -> None:
    logging.getLogger("mqtt").setLevel(logging.ERROR)  # aiomqtt: "N pending publish calls"
    asyncio.run(run_bare(conn, port, first))


class BareClient:
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


async def run_bare(conn: Connection, port: int, first: int) -> None:
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
            clients.append(BareClient(name, await stack.enter_async_context(client)))
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


def c_clients(plan: Plan, port: int, broker_pid: int, tmp: str) -> dict[str, float] | None:
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
    cpu = Cpu({"broker": [broker_pid]})
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


def measure_baselines(
    plan: Plan, port: int, consumers: list[Child], ledger: Ledger, broker_pid: int
) -> dict[str, Any]:
    bare = [Child(f"bare-{i}", bare_main, port, i * BARE_CLIENTS) for i in range(BARE_PROCESSES)]
    try:
        for child in bare:
            if child.reply(60) != "ready":
                raise RuntimeError("bare publisher did not start")
        cpu = Cpu(
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
            for stamps in ask_all(bare, "run", rate, plan.bare_s):
                ledger.add_sent(stamps)
            end = time.monotonic()
            results[phase + "_cpu"] = cpu.stop()
            time.sleep(0.5)
            collect_ledgers(consumers, ledger)
            results[phase] = ledger.window(start + plan.settle_s, end, "bare-")
        results["broker_rss"] = rss_mb(broker_pid)
        ask_all(bare, "stop")
        return results
    finally:
        for child in bare:
            child.end()
