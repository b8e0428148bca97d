"""The ticket pages' streams, fanned out together (agent/web/ticket_streams.py): through the
real server they are written straight to their connections (direct_body.py), and a phone
still sees what it saw when each stream was its own task."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from agent.services.hub import queue_topic
from agent.web.ticket_streams import TicketStreams
from tests.helpers import eventually
from tests.integration.queue_fixtures import queue_config, staff_headers


@pytest.fixture
async def agent(write_config, start_agent):  # type: ignore[no-untyped-def]
    return await start_agent(queue_config(write_config))


class _Phone:
    """A ticket page's stream, read as the page reads it: its frames and whether it ended."""

    def __init__(self) -> None:
        self.views: list[dict[str, Any]] = []
        self.comments = 0
        self.ended = False

    async def watch(self, client: httpx.AsyncClient, ticket_id: str, secret: str) -> None:
        headers = {"Authorization": f"Ticket {secret}"}
        async with client.stream(
            "GET", f"/api/v1/tickets/{ticket_id}/stream", headers=headers
        ) as s:
            assert s.status_code == 200
            assert s.headers["content-type"].startswith("text/event-stream")
            event = None
            async for line in s.aiter_lines():
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: ") and event == "ticket":
                    self.views.append(json.loads(line[6:]))
        self.ended = True  # the agent ended the response (chunked framing intact, or httpx raises)


async def _walk_in(client: httpx.AsyncClient, staff: dict[str, str], queue: str) -> tuple[str, str]:
    made = await client.post(f"/api/v1/queues/{queue}/tickets", json={}, headers=staff)
    assert made.status_code == 201, made.text
    return made.json()["ticket"]["id"], made.json()["secret"]


async def test_each_phone_hears_only_what_moves_it_and_the_stream_ends_with_its_ticket(agent):
    async with httpx.AsyncClient(base_url=agent.base_url, timeout=10) as client:
        staff = await staff_headers(client, agent.components.config)
        tickets = [await _walk_in(client, staff, "advice") for _ in range(3)]
        phones = [_Phone() for _ in tickets]
        tasks = [
            asyncio.create_task(p.watch(client, i, s))
            for p, (i, s) in zip(phones, tickets, strict=True)
        ]
        await eventually(lambda: all(p.views for p in phones), message="the first frames")
        assert [p.views[-1]["position"] for p in phones] == [1, 2, 3]

        # Someone joining behind them moves none of them: no frame.
        await _walk_in(client, staff, "advice")
        await asyncio.sleep(0.3)
        assert [len(p.views) for p in phones] == [1, 1, 1]

        # A call moves everyone: the called phone hears "called", the others their new places.
        called = await client.post("/api/v1/queues/advice/call-next", headers=staff)
        assert called.json()["id"] == tickets[0][0]
        await eventually(lambda: all(len(p.views) == 2 for p in phones), message="the call")
        assert phones[0].views[-1]["state"] == "called"
        assert [p.views[-1]["position"] for p in phones[1:]] == [1, 2]

        # Served: the last view goes out, then the response ends.
        served = await client.post(f"/api/v1/tickets/{tickets[0][0]}/served", headers=staff)
        assert served.status_code == 200
        await asyncio.wait_for(tasks[0], 10)
        assert phones[0].ended and phones[0].views[-1]["state"] == "served"
        assert not any(p.ended for p in phones[1:])
        for task in tasks[1:]:
            task.cancel()


async def test_a_stream_follows_its_ticket_to_another_queue(agent):
    async with httpx.AsyncClient(base_url=agent.base_url, timeout=10) as client:
        staff = await staff_headers(client, agent.components.config)
        await _walk_in(client, staff, "pickup")  # someone already waits in the other queue
        ticket_id, secret = await _walk_in(client, staff, "advice")
        phone = _Phone()
        task = asyncio.create_task(phone.watch(client, ticket_id, secret))
        await eventually(lambda: bool(phone.views), message="the first frame")

        moved = await client.post(
            f"/api/v1/tickets/{ticket_id}/move", json={"queue": "pickup"}, headers=staff
        )
        assert moved.status_code == 200, moved.text
        await eventually(lambda: phone.views[-1]["queue"] == "pickup", message="the move")
        assert phone.views[-1]["position"] == 2

        # A call in its new queue now reaches it; one in its old queue no longer does.
        await _walk_in(client, staff, "advice")
        await client.post("/api/v1/queues/advice/call-next", headers=staff)
        await client.post("/api/v1/queues/pickup/call-next", headers=staff)
        await eventually(lambda: phone.views[-1]["position"] == 1, message="the call there")
        assert all(v["queue"] == "pickup" for v in phone.views[1:])
        streams = agent.components.hub
        assert not task.done() and streams.has_subscribers(queue_topic("pickup"))
        task.cancel()


async def test_a_silent_stream_gets_keepalives_and_lets_go_when_the_client_leaves(agent):
    """Through the ASGI interface alone (no direct body offered): the queued fallback, and
    what a stream holds once its client is gone."""
    components = agent.components
    async with httpx.AsyncClient(base_url=agent.base_url, timeout=10) as client:
        staff = await staff_headers(client, components.config)
        ticket_id, _ = await _walk_in(client, staff, "advice")
    ticket = await components.queues.ticket(ticket_id)
    assert ticket is not None
    streams = TicketStreams(components.queues, components.hub, keepalive_s=0.05)
    sent: list[bytes] = []
    leave = asyncio.Event()

    async def send(message: Any) -> None:
        sent.append(message["body"])

    async def receive() -> Any:
        await leave.wait()
        return {"type": "http.disconnect"}

    serving = asyncio.create_task(streams.serve(ticket, {"type": "http"}, receive, send))
    await eventually(lambda: sent.count(b": keep-alive\n\n") >= 2, message="keep-alives")
    assert sent[0].startswith(b"event: ticket\ndata: ")
    assert json.loads(sent[0].split(b"data: ", 1)[1])["id"] == ticket_id
    assert streams.open_streams() == 1
    leave.set()
    await asyncio.wait_for(serving, 5)
    assert streams.open_streams() == 0
    # Nothing of it is left listening on the hub (the agent's own streams are none here).
    assert not components.hub.has_subscribers(queue_topic("advice"))
