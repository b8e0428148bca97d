"""Contract 8.7 walkouts: a recognised ticket holder whose visit ends is `left` with reason
`walked_out` `walkout_grace_s` after `visit.left`, unless seen again first; never a no-show,
and never a service time for the estimator. Driven through the real handler table (the
bus dispatches `visit.left` and `CustomerIdentified` as recognition emits them)."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent.core.clock import ManualClock
from agent.core.customers import parse_customer_message
from agent.core.events import VisitLeft
from agent.core.messages import ApplyCustomerMessage, CustomerIdentified
from agent.core.passes import sign_pass
from tests.integration.queue_fixtures import queue_config, staff_headers
from tests.integration.recognition_fixtures import customer

CHAIN = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
PUBLIC = CHAIN.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
EXTRA = f"""
[recognition]
pass_public_key = "{base64.b64encode(PUBLIC).decode()}"
"""


def outbox(agent, kind: str) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    bodies = [json.loads(e.body) for e in agent.components.outbox.pending(0, 1000)]
    return [b["data"] for b in bodies if b["type"] == kind]


async def test_a_holder_who_left_the_store_walks_out_after_the_grace(
    write_config, start_agent
) -> None:
    clock = ManualClock()
    agent = await start_agent(queue_config(write_config, extra=EXTRA), clock=clock)
    c = agent.components
    record = customer(1)
    cid = record["customer_id"]
    message = parse_customer_message(json.dumps(record).encode(), cid)
    assert await c.bus.handle(ApplyCustomerMessage(message))
    await c.bus.idle()
    loyalty_pass = sign_pass(cid, 2_000_000_000, CHAIN)

    async with httpx.AsyncClient(base_url=agent.base_url, timeout=10) as client:
        staff = await staff_headers(client, c.config)

        async def add(**body: Any) -> str:
            r = await client.post("/api/v1/queues/advice/tickets", json=body, headers=staff)
            assert r.status_code == 201, r.text
            return str(r.json()["ticket"]["id"])

        waiting = await add(customer_pass=loyalty_pass)
        called = await add(customer_pass=loyalty_pass)
        stranger = await add()
        r = await client.post(f"/api/v1/tickets/{called}/call", headers=staff)
        assert r.status_code == 200
        samples = list(c.queues._queues["advice"].estimator._per_call)

        c.bus.emit([VisitLeft("v-1", cid, 300.0)])
        await c.bus.idle()
        clock.advance(119)
        await c.queues.expire_overdue_calls()
        assert (await c.queues.ticket(waiting)).state == "waiting"  # type: ignore[union-attr]
        clock.advance(2)
        await c.queues.expire_overdue_calls()
        for ticket_id in (waiting, called):
            r = await client.get("/api/v1/queues/advice", headers=staff)
            assert ticket_id not in [t["id"] for t in r.json()["waiting"] + r.json()["called"]]
            ended = await c.queues.ticket(ticket_id)
            assert ended is not None and ended.state == "left"
            assert ended.left_reason == "walked_out"
        assert (await c.queues.ticket(stranger)).state == "waiting"  # type: ignore[union-attr]
        reasons = sorted((e["ticket_id"], e["reason"]) for e in outbox(agent, "queue.left"))
        assert reasons == sorted([(waiting, "walked_out"), (called, "walked_out")])
        assert outbox(agent, "queue.no_show") == []
        # Not a time per call: the estimator learnt nothing from the called one walking out.
        assert list(c.queues._queues["advice"].estimator._per_call) == samples
        # Not undone by staff either: staff did not do it.
        r = await client.post(f"/api/v1/tickets/{called}/undo", headers=staff)
        assert r.status_code == 409

        # Seen again before the grace ends: the ticket stays.
        back = await add(customer_pass=loyalty_pass)
        c.bus.emit([VisitLeft("v-2", cid, 60.0)])
        await c.bus.idle()
        clock.advance(60)
        c.bus.emit([CustomerIdentified(cid, "ble")])
        await c.bus.idle()
        clock.advance(300)
        await c.queues.expire_overdue_calls()
        assert (await c.queues.ticket(back)).state == "waiting"  # type: ignore[union-attr]
