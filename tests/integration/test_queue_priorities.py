"""Priority classes through HTTP (issue 14): staff mark and unmark a waiting ticket, the order
and the estimates follow, the event records it; every refusal (401, 403, 404, 409, 422);
two tablets marking one ticket at once; a gold-tier customer gets the class at join only
with `staff_profile` consent; a restart keeps the class and the place."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent.core.customers import parse_customer_message
from agent.core.messages import ApplyCustomerMessage
from agent.core.passes import sign_pass
from tests.integration.queue_fixtures import display_headers, queue_config, staff_headers
from tests.integration.recognition_fixtures import customer

CHAIN = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
PUBLIC = CHAIN.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
PRIORITIES = f"""
[recognition]
pass_public_key = "{base64.b64encode(PUBLIC).decode()}"

[priorities.mobility]
label_en = "Reduced mobility"
label_fr = "Mobilité réduite"
rank = 1
ahead_s = 1800

[priorities.vip]
label_en = "VIP"
label_fr = "VIP"
rank = 2
ahead_s = 1800
tiers = ["gold", "platinum"]
"""


def outbox(agent, kind: str) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    bodies = [json.loads(e.body) for e in agent.components.outbox.pending(0, 1000)]
    return [b["data"] for b in bodies if b["type"] == kind]


@pytest.fixture
async def agent(write_config, start_agent):  # type: ignore[no-untyped-def]
    return await start_agent(queue_config(write_config, extra=PRIORITIES))


async def add(client: httpx.AsyncClient, staff: dict[str, str], **body: Any) -> dict[str, Any]:
    r = await client.post("/api/v1/queues/advice/tickets", json=body, headers=staff)
    assert r.status_code == 201, r.text
    return dict(r.json()["ticket"])


async def waiting_numbers(client: httpx.AsyncClient, staff: dict[str, str]) -> list[int]:
    r = await client.get("/api/v1/queues/advice", headers=staff)
    return [t["number"] for t in r.json()["waiting"]]


async def test_staff_mark_and_unmark_a_priority_and_the_order_follows(agent) -> None:
    async with httpx.AsyncClient(base_url=agent.base_url, timeout=10) as client:
        staff = await staff_headers(client, agent.components.config)
        tickets = [await add(client, staff) for _ in range(4)]
        last = tickets[-1]
        assert last["position"] == 4
        before = last["eta"]
        r = await client.post(
            f"/api/v1/tickets/{last['id']}/priority", json={"priority": "mobility"}, headers=staff
        )
        assert r.status_code == 200, r.text
        marked = r.json()
        assert marked["priority"] == "mobility" and marked["position"] == 1
        # The estimate is the estimate of its new place: nobody ahead now.
        assert marked["eta"]["high_s"] < before["high_s"]
        assert await waiting_numbers(client, staff) == [4, 1, 2, 3]
        # The others' estimates follow: ticket 1 is now second.
        first = await client.get("/api/v1/queues/advice", headers=staff)
        assert first.json()["waiting"][1]["position"] == 2
        (event,) = outbox(agent, "queue.prioritised")
        assert event == {
            "queue": "advice", "ticket_id": last["id"], "number": 4, "priority": "mobility",
            "previous": None, "source": "staff",
        }  # fmt: skip
        r = await client.delete(f"/api/v1/tickets/{last['id']}/priority", headers=staff)
        assert r.status_code == 200 and r.json()["priority"] is None
        assert r.json()["position"] == 4
        assert await waiting_numbers(client, staff) == [1, 2, 3, 4]
        # The next call takes the priority ticket when it has one.
        await client.post(
            f"/api/v1/tickets/{tickets[2]['id']}/priority", json={"priority": "vip"}, headers=staff
        )
        r = await client.post("/api/v1/queues/advice/call-next", headers=staff)
        assert r.json()["id"] == tickets[2]["id"]


async def test_every_refusal(agent) -> None:
    async with httpx.AsyncClient(base_url=agent.base_url, timeout=10) as client:
        config = agent.components.config
        staff = await staff_headers(client, config)
        display = await display_headers(client, config)
        ticket = await add(client, staff)
        url = f"/api/v1/tickets/{ticket['id']}/priority"
        body = {"priority": "mobility"}
        assert (await client.post(url, json=body)).status_code == 401
        assert (await client.post(url, json={"junk": 1})).status_code == 401  # tablet first
        assert (await client.delete(url)).status_code == 401
        assert (await client.post(url, json=body, headers=display)).status_code == 403
        r = await client.post(url, json={"priority": "royalty"}, headers=staff)
        assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_priority"
        r = await client.post(url, json={"priority": 3}, headers=staff)
        assert r.status_code == 422 and "error" in r.json()
        r = await client.post(url, json={"priority": "vip", "extra": 1}, headers=staff)
        assert r.status_code == 422
        r = await client.post("/api/v1/tickets/nope/priority", json=body, headers=staff)
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
        await client.post("/api/v1/queues/advice/call-next", headers=staff)
        r = await client.post(url, json=body, headers=staff)
        assert r.status_code == 409 and r.json()["error"]["code"] == "not_waiting"
        assert "waiting" in r.json()["error"]["message"]
        r = await client.delete(url, headers=staff)
        assert r.status_code == 409


async def test_two_tablets_marking_one_ticket_at_once_make_one_change(agent) -> None:
    async with httpx.AsyncClient(base_url=agent.base_url, timeout=10) as client:
        config = agent.components.config
        one, two = await staff_headers(client, config), await staff_headers(client, config, "t2")
        await add(client, one)
        ticket = await add(client, one)
        url = f"/api/v1/tickets/{ticket['id']}/priority"
        results = await asyncio.gather(
            client.post(url, json={"priority": "vip"}, headers=one),
            client.post(url, json={"priority": "vip"}, headers=two),
        )
        assert [r.status_code for r in results] == [200, 200]
        assert len(outbox(agent, "queue.prioritised")) == 1  # the second changed nothing


async def test_a_tier_gives_the_class_at_join_only_with_staff_profile_consent(
    write_config, start_agent
) -> None:
    config = queue_config(write_config, extra=PRIORITIES)
    agent = await start_agent(config)
    c = agent.components
    passes = {}
    for index, consent in ((1, True), (2, False)):
        record = customer(index, staff_profile=consent)  # both gold
        cid = record["customer_id"]
        message = parse_customer_message(json.dumps(record).encode(), cid)
        assert await c.bus.handle(ApplyCustomerMessage(message))
        passes[consent] = sign_pass(cid, 2_000_000_000, CHAIN)
    await c.bus.idle()
    async with httpx.AsyncClient(base_url=agent.base_url, timeout=10) as client:
        staff = await staff_headers(client, config)
        plain = await add(client, staff)
        private = await add(client, staff, customer_pass=passes[False])
        gold = await add(client, staff, customer_pass=passes[True])
        assert gold["position"] == 1 and private["position"] == 2
        assert await waiting_numbers(client, staff) == [3, 1, 2]
        (event,) = outbox(agent, "queue.prioritised")
        assert event["ticket_id"] == gold["id"] and event["priority"] == "vip"
        assert event["source"] == "tier"
        view = (await client.get("/api/v1/queues/advice", headers=staff)).json()
        assert [t["priority"] for t in view["waiting"]] == ["vip", None, None]
        assert plain["id"] == view["waiting"][1]["id"]

    # A restart keeps the class and the place (both are on disk).
    await agent.daemon.stop()
    again = await start_agent(config)
    assert [t.number for t in again.components.queues.queue_view("advice").waiting] == [3, 1, 2]
    assert again.components.queues.queue_view("advice").waiting[0].priority == "vip"
