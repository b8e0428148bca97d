"""Power-cut style: the database files as they are at a random instant, mid-write.

The agent is frozen (SIGSTOP) at random moments while joins are in flight, its database
files are copied as they stand, and it is thawed. Each copy is what a store would restart from
after its power went at that instant: it must open cleanly (integrity check, migrations) and
hold every ticket acknowledged before the instant.

What this cannot show: that the disk itself honours fsync (synchronous=FULL relies on it).
A freeze captures everything the agent had written to the operating system; a real power cut
loses what the OS had not yet flushed, which is exactly what the fsync before each
acknowledgement is for.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import signal
import sqlite3
from pathlib import Path

import pytest

from agent.store.database import Database
from simulators.mosquitto import MosquittoBroker
from tests.reliability.harness import CrashHarness


@pytest.mark.timeout(600)
async def test_copies_taken_mid_write_open_cleanly_with_every_acknowledged_ticket(
    tmp_path: Path, broker: MosquittoBroker, request: pytest.FixtureRequest
) -> None:
    cuts = 200 if request.config.getoption("--long") else 20
    rng = random.Random(7)
    (tmp_path / "agent").mkdir()
    harness = CrashHarness(tmp_path / "agent", broker.url)
    harness.start()
    await harness.wait_healthy()
    token = harness.sticker_token()
    stop = asyncio.Event()
    load = asyncio.create_task(harness.load(token, stop))
    snapshots: list[tuple[Path, set[str]]] = []
    try:
        for n in range(cuts):
            await asyncio.sleep(rng.uniform(0.05, 0.3))
            assert harness.process is not None
            acknowledged = {a.ticket_id for a in harness.acknowledged}
            os.kill(harness.process.pid, signal.SIGSTOP)
            try:
                target = tmp_path / f"cut-{n:03d}"
                target.mkdir()
                for suffix in ("", "-wal"):
                    source = Path(f"{harness.db}{suffix}")
                    if source.exists():
                        shutil.copyfile(source, target / f"agent.db{suffix}")
            finally:
                os.kill(harness.process.pid, signal.SIGCONT)
            snapshots.append((target, acknowledged))
    finally:
        stop.set()
        await load
        harness.stop()
    assert len(harness.acknowledged) > cuts * 3, "the load generator hardly ran"
    for target, acknowledged in snapshots:
        conn = sqlite3.connect(target / "agent.db")
        try:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok", target
            stored = {row[0] for row in conn.execute("SELECT id FROM tickets")}
            (outbox_ok,) = conn.execute(
                "SELECT COUNT(*) = 0 OR MAX(seq) - MIN(seq) + 1 >= COUNT(*) FROM outbox"
            ).fetchone()
        finally:
            conn.close()
        assert acknowledged <= stored, f"{target}: lost {len(acknowledged - stored)} tickets"
        assert outbox_ok
        database = Database.open(target / "agent.db", store_id="crash-01")  # migrations, lock
        database.close()
    print(f"{cuts} cuts, {len(harness.acknowledged)} acknowledged tickets, 0 lost, 0 corrupt")
