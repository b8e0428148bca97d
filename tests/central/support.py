"""Helpers for the central ingest's tests: a fresh PostgreSQL database per test, an ingest
running in the test's event loop or as a separate process, a plain MQTT publisher."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import psycopg
from paho.mqtt.enums import CallbackAPIVersion

from central.ingest import Ingest, IngestOptions

ADMIN_DSN = os.environ.get("RETAIL_EDGE_TEST_PG", "host=127.0.0.1 user=postgres dbname=postgres")
REPO = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def fresh_database() -> Iterator[str]:
    """CREATE DATABASE re_test_<random>; dropped (with its connections) afterwards."""
    name = f"re_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    base = {k: v for k, v in (p.split("=", 1) for p in ADMIN_DSN.split()) if k != "dbname"}
    try:
        yield " ".join(f"{k}={v}" for k, v in base.items()) + f" dbname={name}"
    finally:
        with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def query(dsn: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(sql, params).fetchall()


def event(store: str, seq: int, event_type: str = "queue.joined", **data: Any) -> dict[str, Any]:
    return {
        "id": f"{store}-{seq}-{uuid.uuid4().hex[:8]}",
        "store": store,
        "seq": seq,
        "type": event_type,
        "ts": "2026-12-01T10:00:00.000Z",
        "data": data or {"queue": "advice", "ticket_id": f"t-{seq}", "number": seq},
    }


class Publisher:
    """A plain MQTT 5 client publishing what the test gives it, QoS 1, waiting for PUBACKs."""

    def __init__(self, port: int, client_id: str = "test-publisher") -> None:
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5
        )
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def send(self, topic: str, payload: bytes | str | Any, *, retain: bool = False) -> None:
        if not isinstance(payload, bytes | str):
            payload = json.dumps(payload)
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        info.wait_for_publish(timeout=10)
        assert info.is_published()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@contextlib.asynccontextmanager
async def running_ingest(**options: Any) -> AsyncIterator[Ingest]:
    """An ingest in this event loop (its metrics readable), stopped on exit."""
    ingest = Ingest(IngestOptions(**options))
    stop = asyncio.Event()
    task = asyncio.create_task(ingest.run(stop))
    try:
        # Tables made and the subscription (or the pull consumer) in place.
        deadline = asyncio.get_running_loop().time() + 15
        while not metric(ingest, "central_broker_connects_total"):
            if task.done() or asyncio.get_running_loop().time() > deadline:
                await task
                raise AssertionError("the ingest did not connect")
            await asyncio.sleep(0.02)
        yield ingest
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=15)


def metric(ingest: Ingest, name: str, labels: dict[str, str] | None = None) -> float:
    return ingest.metrics.registry.get_sample_value(name, labels or {}) or 0.0


def ingest_process(*args: str, log: Path) -> subprocess.Popen[bytes]:
    """`retail-edge central ingest ARGS` as its own process (killable with SIGKILL)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "agent.cli", "central", "ingest", *args],
            stdout=out,
            stderr=out,
            env=env,
            start_new_session=True,
        )


def kill(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            kill(process)
