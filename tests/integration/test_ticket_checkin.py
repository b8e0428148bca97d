"""Queue tickets checked in at the door: the ticket's QR code at the counter camera (through
the real camera pipeline and decoder), or the ticket holder recognised by their phone."""

from __future__ import annotations

import asyncio
import base64

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent.config.loader import load_config
from agent.core.passes import sign_pass
from agent.core.ticket_codes import ticket_code
from simulators.ble_phones import Walk
from simulators.central import CentralService
from simulators.customers import tombstone
from simulators.mosquitto import MosquittoBroker
from tests.helpers import eventually
from tests.integration.queue_fixtures import QUEUES, join, staff_headers
from tests.integration.recognition_fixtures import credential, customer

CHAIN = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
PUBLIC = CHAIN.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

EXTRA = (
    QUEUES.format(max_waiting=50)
    + f"""
[recognition]
door_rssi_dbm = -75
arrive_after_s = 0.5
leave_after_s = 5
pass_public_key = "{base64.b64encode(PUBLIC).decode()}"

[[devices]]
kind = "ble"
adapter = "simulated"

[[devices]]
kind = "qr-camera"
adapter = "simulated"
"""
)


async def started(write_config, start_agent, broker: MosquittoBroker):  # type: ignore[no-untyped-def]
    agent = await start_agent(load_config(write_config(broker.url, extra=EXTRA)))
    assert agent.components.link is not None
    await asyncio.wait_for(agent.components.link.connected.wait(), 10)
    return agent


def at_door(agent, ticket_id: str) -> bool:  # type: ignore[no-untyped-def]
    ticket = agent.components.queues._queues["advice"].book.get(ticket_id)
    return ticket is not None and ticket.checked_in_at is not None


async def test_the_ticket_code_at_the_camera_checks_the_ticket_in(
    broker: MosquittoBroker, central: CentralService, write_config, start_agent
) -> None:
    agent = await started(write_config, start_agent, broker)
    queues = agent.components.queues
    camera = agent.components.extras["qr"]
    async with httpx.AsyncClient(base_url=agent.base_url, timeout=10) as client:
        created = await join(client, agent)
        ticket_id = created["ticket"]["id"]
        page = await client.get(f"/t/{ticket_id}")
        assert page.status_code == 200 and "<svg" in page.text  # the code is on the page
        ticket = await queues.ticket(ticket_id)
        code = queues.ticket_code(ticket)

        forged = ticket_code(b"another device's key" * 2, ticket_id)
        camera.show(forged)  # type: ignore[attr-defined]
        camera.show(code)  # type: ignore[attr-defined]
        await eventually(lambda: at_door(agent, ticket_id), message="checked in by the camera")

        headers = await staff_headers(client, agent.components.config)
        view = (await client.get("/api/v1/queues/advice", headers=headers)).json()
        (row,) = view["waiting"]
        assert row["at_door"] is True
    ledger = central.ledger("test-01")
    await eventually(lambda: bool(ledger.events_of_type("queue.checked_in")), message="event up")
    (event,) = ledger.events_of_type("queue.checked_in")
    assert event["data"] == {
        "queue": "advice",
        "ticket_id": ticket_id,
        "number": created["ticket"]["number"],
        "via": "ticket_qr",
    }
    metrics = agent.components.metrics.registry
    assert metrics.get_sample_value("retail_edge_readings_dropped_total", {"kind": "ticket"}) == 1


async def test_a_recognised_ticket_holder_is_checked_in_and_their_grace_restarts(
    broker: MosquittoBroker, central: CentralService, write_config, start_agent
) -> None:
    agent = await started(write_config, start_agent, broker)
    record = customer(1)
    central.publish_customer(record)
    recognition = agent.components.recognition
    await eventually(lambda: len(recognition.directory) == 1, message="record applied")
    queues = agent.components.queues
    loyalty_pass = sign_pass(record["customer_id"], 2_000_000_000, CHAIN)
    async with httpx.AsyncClient(base_url=agent.base_url, timeout=10) as client:
        holder = (await join(client, agent, customer_pass=loyalty_pass))["ticket"]["id"]
        stranger = (await join(client, agent, customer_pass="not a pass"))["ticket"]["id"]
        headers = await staff_headers(client, agent.components.config)
        called = await client.post("/api/v1/queues/advice/call-next", headers=headers)
        assert called.status_code == 200 and called.json()["id"] == holder

        phones = agent.components.extras["ble"]
        phones.walk_in(credential(record), Walk(approach_s=0.5, door_s=2.0, inside_s=2))  # type: ignore[attr-defined]
        await eventually(lambda: at_door(agent, holder), message="holder checked in")
        assert not at_door(agent, stranger)

    ticket = await queues.ticket(holder)
    assert ticket.customer_id == record["customer_id"]
    # Seen at the door after the call: lateness counts from there.
    assert ticket.grace_started_at() == ticket.checked_in_at > ticket.called_at
    stored = await queues.ticket(stranger)
    assert stored.customer_id is None

    # Revoke: the ticket keeps its place but loses the link, in memory and on disk.
    central.publish_customer(tombstone(record["customer_id"], "revoke", 2))
    await eventually(
        lambda: queues._queues["advice"].book.get(holder).customer_id is None,
        message="link forgotten",
    )
    await eventually(
        lambda: (
            agent.components.runner.call(
                lambda: agent.components.database.conn.execute(
                    "SELECT COUNT(*) FROM tickets WHERE customer_id IS NOT NULL"
                ).fetchone()[0]
            )
            == 0
        ),
        message="customer id gone from the tickets table",
        timeout=5,
    )
