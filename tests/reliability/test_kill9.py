"""SIGKILL the agent at random moments under load; nothing acknowledged may be lost.

Short form in CI (20 kills); `--long` runs 500. Afterwards every ticket that got a 201 exists
in its state, and the central side holds every event: `seq` contiguous from 1, each joined
ticket's `queue.joined` present, duplicates only as repeats of the same `id`.
"""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import httpx
import pytest

from simulators.central import CentralService
from simulators.mosquitto import MosquittoBroker
from tests.helpers import eventually
from tests.reliability.harness import CrashHarness


@pytest.mark.timeout(900)
async def test_kill_9_under_load_loses_nothing(
    tmp_path: Path, broker: MosquittoBroker, central: CentralService, request: pytest.FixtureRequest
) -> None:
    kills = 500 if request.config.getoption("--long") else 20
    rng = random.Random(20261125)
    harness = CrashHarness(tmp_path, broker.url)
    harness.start()
    await harness.wait_healthy()
    token = harness.sticker_token()
    stop_load = asyncio.Event()
    load = asyncio.create_task(harness.load(token, stop_load))
    try:
        for _ in range(kills):
            await asyncio.sleep(rng.uniform(0.05, 0.6))  # let joins and publishes be in flight
            harness.kill()
            harness.start()
            await harness.wait_healthy()
    finally:
        stop_load.set()
        await load
    ledger = central.ledger("crash-01")
    try:

        async def drained() -> bool:
            health = await harness.wait_healthy()
            return health["outbox"] == 0 and health["mqtt"] == "connected"

        deadline = asyncio.get_running_loop().time() + 60
        while not await drained():
            assert asyncio.get_running_loop().time() < deadline, "outbox never drained"
            await asyncio.sleep(0.1)
        acknowledged = harness.acknowledged
        assert len(acknowledged) > kills * 5, "the load generator hardly ran"
        # 1. Every acknowledged ticket exists, waiting, with its number.
        async with httpx.AsyncClient(base_url=harness.base_url, timeout=10) as client:
            for ack in acknowledged:
                r = await client.get(
                    f"/api/v1/tickets/{ack.ticket_id}",
                    headers={"Authorization": f"Ticket {ack.secret}"},
                )
                assert r.status_code == 200, (ack, r.text)
                assert r.json()["state"] == "waiting" and r.json()["number"] == ack.number
        # 2. The central side has every event, seq contiguous, no conflicting duplicates.
        await eventually(
            lambda: ledger.max_seq > 0 and not ledger.gaps(),
            timeout=30,
            message="contiguous seq at central",
        )
        assert ledger.conflicts == 0
        joined = {e["data"]["ticket_id"] for e in ledger.events_of_type("queue.joined")}
        missing = [a.ticket_id for a in acknowledged if a.ticket_id not in joined]
        assert missing == []
        starts = len(ledger.events_of_type("agent.started"))
        assert starts == kills + 1
        print(
            f"{kills} kills, {len(acknowledged)} acknowledged tickets, {ledger.max_seq} events, "
            f"{ledger.duplicates} duplicates (by id), 0 lost"
        )
    finally:
        harness.stop()
