"""Disk full while events wait: the MQTT link stays up and sends nothing twice (issue 12, item 7).

The database lives on a real, small tmpfs (mounted here, as root) that a filler file makes full,
so every write SQLite tries fails with SQLITE_FULL, exactly as on a store's full SD card. The
broker's PUBACKs then cannot be recorded (moving an event to the sent log is a write). Before
the fix the publisher raised, the link dropped the connection, reset its backoff and sent the
whole outbox again about 2.6 times a second; now the acknowledged seqs are held in memory, the
connection stays up, and once space is freed every event has arrived exactly once.
"""

from __future__ import annotations

import asyncio
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agent.config.loader import load_config
from agent.config.model import AgentConfig
from simulators.mosquitto import MosquittoBroker
from tests.helpers import eventually, running_central
from tests.integration.queue_fixtures import QUEUES, join

FULL_FOR_S = 20.0
TMPFS_SIZE = "8m"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs of 8 MiB at the agent's data directory (where write_config puts the database)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / "data"
    mount.mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE}", "tmpfs", str(mount)], check=True
    )
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path) -> Path:
    """Write a filler file until the file system has no byte left."""
    filler = disk / "filler"
    with filler.open("wb", buffering=0) as out:
        for chunk in (1 << 20, 1 << 12, 1):
            try:
                while True:
                    out.write(b"\0" * chunk)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
    return filler


def metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


def agent_config(write_config, url: str, mqtt: dict[str, int]) -> AgentConfig:  # type: ignore[no-untyped-def]
    path = write_config(url, extra=QUEUES.format(max_waiting=1000), **mqtt)
    http = "joins_per_client = 1000\njoins_per_token_per_minute = 10000\n"
    path.write_text(path.read_text().replace("[http]\n", "[http]\n" + http, 1))
    return load_config(path)


@pytest.mark.parametrize(
    ("mqtt", "held_max", "full_for_s"),
    [
        pytest.param({}, 10_000, FULL_FOR_S, id="one-batch"),  # the setting
        pytest.param({"batch_max_events": 5, "inflight_window": 4}, 10_000, 8.0, id="batches"),
        # The bound: past 20 held seqs the drain stops, so memory stays flat however long.
        pytest.param({"batch_max_events": 5, "inflight_window": 2}, 20, 5.0, id="bounded"),
    ],
)
async def test_full_disk_keeps_the_link_and_sends_nothing_twice(
    small_disk: Path,
    broker: MosquittoBroker,
    write_config,  # type: ignore[no-untyped-def]
    start_agent,  # type: ignore[no-untyped-def]
    mqtt: dict[str, int],
    held_max: int,
    full_for_s: float,
) -> None:
    async with running_central(broker.url, resend_after_s=None) as central:
        broker.stop()  # the events wait in the outbox, as after an outage
        agent = await start_agent(agent_config(write_config, broker.url, mqtt))
        assert agent.components.link is not None
        agent.components.link._publisher._held_max = held_max  # no config key (yet)
        c = agent.components
        async with httpx.AsyncClient(base_url=agent.base_url) as client:
            for _ in range(116):
                await join(client, agent)
            # An empty WAL: from here every write must grow a file, which the full disk refuses.
            c.runner.call(lambda: c.database.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)"))
            waiting = c.runner.call(c.outbox.stats).depth
            filler = fill(small_disk)
            broker.start()
            await eventually(lambda: central.ledger("test-01").messages > 0, timeout=15)
            await asyncio.sleep(full_for_s)

            ledger = central.ledger("test-01")
            duplicates_per_minute = ledger.duplicates * 60 / full_for_s
            metrics = (await client.get("/metrics")).text
            health = (await client.get("/healthz")).json()
            print(
                f"\n{waiting} events waiting; with the disk full for {full_for_s:.0f} s:"
                f" {ledger.duplicates} duplicates ({duplicates_per_minute:.0f}/min),"
                f" {ledger.messages} messages,"
                f" {metric(metrics, 'retail_edge_mqtt_connects_total'):.0f} connects"
            )
            assert ledger.duplicates == 0, f"{duplicates_per_minute:.0f} duplicates per minute"
            assert metric(metrics, "retail_edge_mqtt_connects_total") == 1
            assert health["mqtt"] == "connected", health
            assert health["status"] == "degraded", health
            assert "acknowledged" in health["storage"] and "full" in health["storage"], health
            held = metric(metrics, "retail_edge_outbox_acks_unrecorded")
            received = len(ledger.by_seq)
            if held_max < waiting:
                # The drain stopped: only what was in flight when the bound was reached went on.
                window, batch = c.config.mqtt.inflight_window, c.config.mqtt.batch_max_events  # type: ignore[union-attr]
                assert held_max <= held <= held_max + (window - 1) * batch
                assert metric(metrics, "retail_edge_outbox_drain_paused") == 1
                assert received == held < waiting
            else:
                assert received == held == waiting
            assert metric(metrics, "retail_edge_storage_errors_total") >= 1

            filler.unlink()  # space again
            await eventually(
                lambda: c.runner.call(c.outbox.stats).depth == 0,
                timeout=20,
                message="the held acknowledgements to be recorded",
            )
            await join(client, agent)  # and new events flow again
            expected = c.runner.call(c.outbox.stats).next_seq - 1
            await eventually(lambda: ledger.max_seq == expected, timeout=10)
            for _ in range(500):
                health = (await client.get("/healthz")).json()
                if health["status"] == "ok":
                    break
                await asyncio.sleep(0.02)
            assert health == {"status": "ok", "mqtt": "connected", "outbox": 0}, health
            metrics = (await client.get("/metrics")).text

        assert ledger.gaps() == [] and ledger.conflicts == 0
        assert sorted(ledger.by_seq) == list(range(1, expected + 1))
        assert ledger.duplicates == 0  # no reconnect happened, so not even at-least-once repeats
        assert metric(metrics, "retail_edge_mqtt_connects_total") == 1
        assert metric(metrics, "retail_edge_outbox_acks_unrecorded") == 0
        assert metric(metrics, "retail_edge_outbox_drain_paused") == 0
        assert central.malformed == 0
