"""The ticket streams woken by one change share the waits worked out for it (agent/services/
queue/announce.py, `Announcer.place`): after a call every phone is sent its new place and the
wait a fresh read of its ticket gives, the same wait the tablets show for that place."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from tests.helpers import eventually
from tests.integration.queue_fixtures import queue_config, staff_headers


def _holder(secret: str) -> dict[str, str]:
    return {"Authorization": f"Ticket {secret}"}


async def _watch(
    client: httpx.AsyncClient, path: str, headers: dict[str, str], event: str, seen: list[Any]
) -> None:
    async with client.stream("GET", path, headers=headers) as stream:
        name = None
        async for line in stream.aiter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: ") and name == event:
                seen.append(json.loads(line[6:]))


async def test_each_phone_gets_its_new_place_and_wait_after_a_call(
    write_config, start_agent
) -> None:
    agent = await start_agent(queue_config(write_config))
    async with httpx.AsyncClient(base_url=agent.base_url, timeout=10) as client:
        staff = await staff_headers(client, agent.components.config)
        tickets = []
        for _ in range(5):
            made = await client.post("/api/v1/queues/advice/tickets", json={}, headers=staff)
            assert made.status_code == 201, made.text
            tickets.append((made.json()["ticket"]["id"], made.json()["secret"]))
        phones: list[list[dict[str, Any]]] = [[] for _ in tickets]
        tablet: list[dict[str, Any]] = []
        watchers = [
            asyncio.create_task(
                _watch(client, f"/api/v1/tickets/{i}/stream", _holder(s), "ticket", seen)
            )
            for (i, s), seen in zip(tickets, phones, strict=True)
        ]
        watchers.append(
            asyncio.create_task(_watch(client, "/api/v1/staff/stream", staff, "queue", tablet))
        )
        await eventually(lambda: all(phones) and bool(tablet), message="the first frames")
        assert [seen[-1]["position"] for seen in phones] == [1, 2, 3, 4, 5]

        called = await client.post("/api/v1/queues/advice/call-next", headers=staff)
        assert called.json()["id"] == tickets[0][0]
        await eventually(
            lambda: (
                phones[0][-1]["state"] == "called"
                and [seen[-1]["position"] for seen in phones[1:]] == [1, 2, 3, 4]
                and len(tablet[-1]["waiting"]) == 4
            ),
            message="every phone and the tablet told of the call",
        )
        shown = {t["id"]: t for t in tablet[-1]["waiting"]}
        waits = set()
        for (ticket_id, secret), seen in zip(tickets[1:], phones[1:], strict=True):
            read = await client.get(f"/api/v1/tickets/{ticket_id}", headers=_holder(secret))
            assert (seen[-1]["position"], seen[-1]["eta"]) == (
                read.json()["position"],
                read.json()["eta"],
            )
            assert seen[-1]["eta"] == shown[ticket_id]["eta"]
            waits.add(json.dumps(seen[-1]["eta"]))
        assert len(waits) == 4  # each place its own wait: not one shared by mistake
        for watcher in watchers:
            watcher.cancel()
        await asyncio.gather(*watchers, return_exceptions=True)
