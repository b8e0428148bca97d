"""A tablet's queue frames are built when sent and coalesced (agent/services/queue/
announce.py): a burst of changes reaches a watching tablet as its final state in fewer
frames than changes, the staff action answers without waiting for the view, and a view is
never older than a second when a tablet connects."""

from __future__ import annotations

import asyncio
import json

import httpx

from tests.helpers import eventually
from tests.integration.queue_fixtures import queue_config, staff_headers


async def test_a_burst_reaches_the_tablet_as_its_final_state(write_config, start_agent) -> None:
    agent = await start_agent(queue_config(write_config))
    async with httpx.AsyncClient(base_url=agent.base_url, timeout=10) as client:
        staff = await staff_headers(client, agent.components.config)
        frames: list[int] = []

        async def watch() -> None:
            async with client.stream("GET", "/api/v1/staff/stream", headers=staff) as s:
                event = None
                async for line in s.aiter_lines():
                    if line.startswith("event: "):
                        event = line[7:]
                    elif line.startswith("data: ") and event == "queue":
                        view = json.loads(line[6:])
                        if view["queue"] == "advice":
                            frames.append(len(view["waiting"]))

        watcher = asyncio.create_task(watch())
        await eventually(lambda: frames == [0], message="the first picture")
        burst = [
            client.post("/api/v1/queues/advice/tickets", json={}, headers=staff) for _ in range(20)
        ]
        assert all(r.status_code == 201 for r in await asyncio.gather(*burst))
        await eventually(lambda: frames[-1] == 20, message="the final state shown")
        await asyncio.sleep(0.3)
        assert frames[-1] == 20 and len(frames) < 21, frames  # coalesced, nothing lost
        assert frames == sorted(frames)  # never an older state after a newer one

        # A tablet connecting much later gets a view built now, not the cached one: the
        # waited time moves with the clock alone.
        await asyncio.sleep(1.2)
        later = await client.get("/api/v1/queues/advice", headers=staff)
        _version, cached = agent.components.queues.latest_queue_view("advice")
        assert cached.waiting[0].waited_s >= 1
        assert cached.waiting[0].waited_s == later.json()["waiting"][0]["waited_s"]
        watcher.cancel()
