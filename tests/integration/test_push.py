"""Web Push end to end (contract 8.6): the agent's real push request reaches a push service
the test serves on loopback; the test decrypts it with the subscription's own keys
(RFC 8291) and verifies the VAPID token (RFC 8292) with the key from /api/v1/push/key."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from agent.web.i18n import fill, strings
from tests.integration.queue_fixtures import join, queue_config, staff_headers
from tests.push_endpoint import Browser, PushEndpoint, unb64url, verify_vapid


def push_section(endpoint: PushEndpoint, **keys: Any) -> str:
    settings = {"timeout_s": 1.0, "retry_initial_s": 0.1, "retry_max_delay_s": 0.3} | keys
    lines = [f'endpoint_hosts = ["fcm.googleapis.com", "{endpoint.origin}"]']
    lines += [f"{key} = {value!r}" for key, value in settings.items()]
    return "\n[push]\n" + "\n".join(lines) + "\n"


@pytest.fixture
async def endpoint() -> AsyncIterator[PushEndpoint]:
    service = PushEndpoint()
    await service.start()
    try:
        yield service
    finally:
        await service.stop()


@pytest.fixture
async def agent(write_config, start_agent, endpoint):  # type: ignore[no-untyped-def]
    return await start_agent(queue_config(write_config, extra=push_section(endpoint)))


@pytest.fixture
async def client(agent):  # type: ignore[no-untyped-def]
    async with httpx.AsyncClient(base_url=agent.base_url, timeout=10) as c:
        yield c


def metric(agent: Any, name: str, **labels: str) -> float:
    value = agent.components.metrics.registry.get_sample_value(name, labels)
    return float(value or 0.0)


async def subscribe(client: httpx.AsyncClient, ticket_id: str, body: dict[str, Any]) -> int:
    response = await client.put(f"/api/v1/tickets/{ticket_id}/push", json=body)
    return response.status_code


async def wait_until(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_the_key_and_what_a_subscription_must_be(agent, client, endpoint) -> None:
    key = (await client.get("/api/v1/push/key")).json()["public_key"]
    point = unb64url(key)
    assert len(point) == 65 and point[0] == 4
    ticket = (await join(client, agent))["ticket"]
    phone = Browser()
    assert await subscribe(client, ticket["id"], phone.subscription(endpoint.url("a"))) == 204
    refused = {
        "a host not listed": phone.subscription("https://push.evil.example/x"),
        "http to a listed https host": phone.subscription("http://fcm.googleapis.com/fcm/send/x"),
        "another port of the listed http host": phone.subscription(
            f"http://127.0.0.1:{endpoint.port + 1}/push/a"
        ),
        "credentials in the URL": phone.subscription("https://me@fcm.googleapis.com/x"),
        "a key that is not a P-256 point": phone.subscription(endpoint.url("a"))
        | {"keys": {"p256dh": "BA" + "A" * 85, "auth": "A" * 22}},
        "a short auth secret": phone.subscription(endpoint.url("a"))
        | {"keys": {"p256dh": phone.p256dh, "auth": "AAAA"}},
        "not base64url": phone.subscription(endpoint.url("a"))
        | {"keys": {"p256dh": phone.p256dh[:-1] + "+", "auth": "A" * 22}},
        "a huge endpoint": phone.subscription("https://fcm.googleapis.com/" + "x" * 5000),
        "an unknown field": phone.subscription(endpoint.url("a")) | {"extra": 1},
    }
    for why, body in refused.items():
        assert await subscribe(client, ticket["id"], body) == 422, why
    assert (
        metric(
            agent,
            "retail_edge_push_subscriptions_refused_total",
            reason="push_endpoint_not_allowed",
        )
        == 4
    )
    assert (
        metric(agent, "retail_edge_push_subscriptions_refused_total", reason="push_keys_invalid")
        == 3
    )
    # Only the ticket's holder may subscribe it.
    async with httpx.AsyncClient(base_url=agent.base_url) as stranger:
        r = await stranger.put(
            f"/api/v1/tickets/{ticket['id']}/push", json=phone.subscription(endpoint.url("a"))
        )
        assert r.status_code == 401
    # The service worker is served from the root, so its scope covers /t/.
    worker = await client.get("/sw.js")
    assert worker.status_code == 200 and "showNotification" in worker.text
    assert worker.headers["content-type"].startswith("text/javascript")


async def test_a_call_is_pushed_encrypted_and_signed(agent, client, endpoint) -> None:
    key = (await client.get("/api/v1/push/key")).json()["public_key"]
    ticket = (await join(client, agent, locale="fr"))["ticket"]
    phone = Browser()
    assert await subscribe(client, ticket["id"], phone.subscription(endpoint.url("fr"))) == 204
    staff = await staff_headers(client, agent.components.config)
    started = time.time()
    assert (await client.post("/api/v1/queues/advice/call-next", headers=staff)).status_code == 200
    received = await endpoint.wait_for(1)
    push = received[-1]
    assert push.headers["content-encoding"] == "aes128gcm"
    assert push.headers["urgency"] == "high" and int(push.headers["ttl"]) > 0
    claims = verify_vapid(push.headers["authorization"], key)
    assert claims["aud"] == endpoint.origin
    assert started < claims["exp"] <= started + 24 * 3600 + 5
    assert claims["sub"].startswith("mailto:")
    payload = phone.decrypt(push.body)
    fr = strings("fr")
    assert payload == {
        "type": "called",
        "ticket_id": ticket["id"],
        "number": ticket["number"],
        "queue": "advice",
        "lang": "fr",
        "title": fill(fr["push_called_title"], number=ticket["number"]),
        "body": fr["push_called_body"],
        "url": f"http://127.0.0.1:8080/t/{ticket['id']}",
    }
    await wait_until(lambda: metric(agent, "retail_edge_push_sent_total", kind="called") == 1)
    # Served: the subscription goes with the ticket, in the same transaction.
    r = await client.post(f"/api/v1/tickets/{ticket['id']}/served", headers=staff)
    assert r.status_code == 200
    store = agent.components.push._subscriptions
    assert await agent.components.uow.read(store.count) == 0


async def test_recalls_push_again_with_the_count(agent, client, endpoint) -> None:
    ticket = (await join(client, agent))["ticket"]
    phone = Browser()
    assert await subscribe(client, ticket["id"], phone.subscription(endpoint.url("r"))) == 204
    staff = await staff_headers(client, agent.components.config)
    await client.post("/api/v1/queues/advice/call-next", headers=staff)
    await endpoint.wait_for(1)
    for n in (1, 2):
        r = await client.post(f"/api/v1/tickets/{ticket['id']}/recall", headers=staff)
        assert r.json()["recalls"] == n
        received = await endpoint.wait_for(1 + n)
        payload = phone.decrypt(received[-1].body)
        assert (payload["type"], payload["recalls"]) == ("recalled", n)
        assert payload["title"] == fill(strings("en")["push_recalled_title"], number=1)
        assert received[-1].headers["urgency"] == "high"
    types = [json.loads(e.body)["type"] for e in agent.components.outbox.pending(0, 100)]
    assert types.count("queue.recalled") == 2 and types.count("queue.called") == 1


async def test_approaching_when_others_are_called(
    write_config, start_agent, endpoint, broker, central
) -> None:
    config = queue_config(write_config, broker.url, extra=push_section(endpoint))
    agent = await start_agent(config)
    async with httpx.AsyncClient(base_url=agent.base_url, timeout=10) as client:
        tickets = [(await join(client, agent))["ticket"] for _ in range(3)]
        third = (await join(client, agent, phone="+33612345678"))["ticket"]  # SMS consent
        phone = Browser()
        assert await subscribe(client, third["id"], phone.subscription(endpoint.url("n"))) == 204
        staff = await staff_headers(client, config)
        await client.post("/api/v1/queues/advice/call-next", headers=staff)
        assert endpoint.received == []  # fourth is now third: not yet
        await client.post("/api/v1/queues/advice/call-next", headers=staff)
        received = await endpoint.wait_for(1)
        payload = phone.decrypt(received[0].body)
        assert (payload["type"], payload["position"], payload["number"]) == ("approaching", 2, 4)
        assert received[0].headers["urgency"] == "normal"
        view = (await client.get(f"/api/v1/tickets/{third['id']}")).json()
        assert view["approaching"] is True and view["position"] == 2
        # Once per ticket: another call moves it to 1 and says nothing more.
        await client.post("/api/v1/queues/advice/call-next", headers=staff)
        await asyncio.sleep(0.3)
        assert len(endpoint.received) == 1
    ledger = central.ledger("test-01")
    await wait_until(lambda: len(ledger.events_of_type("queue.approaching")) == 4)
    events = {e["data"]["ticket_id"]: e["data"] for e in ledger.events_of_type("queue.approaching")}
    assert events[third["id"]] == {
        "queue": "advice",
        "ticket_id": third["id"],
        "number": 4,
        "position": 2,
        "phone": "+33612345678",
    }
    assert "phone" not in events[tickets[0]["id"]]  # no SMS consent, no phone


async def test_approaching_is_not_sent_again_after_a_restart(
    write_config, start_agent, endpoint
) -> None:
    config = queue_config(write_config, extra=push_section(endpoint))
    agent = await start_agent(config)
    async with httpx.AsyncClient(base_url=agent.base_url, timeout=10) as client:
        for _ in range(3):
            await join(client, agent)
    await agent.daemon.stop()
    again = await start_agent(config)
    async with httpx.AsyncClient(base_url=again.base_url, timeout=10) as client:
        staff = await staff_headers(client, config)
        await client.post("/api/v1/queues/advice/call-next", headers=staff)
    outbox = again.components.outbox.pending(0, 1000)
    bodies = [json.loads(e.body) for e in outbox]
    told = [b["data"]["number"] for b in bodies if b["type"] == "queue.approaching"]
    assert told == [1, 2, 3]  # 1 and 2 at their join, 3 at the call; nobody twice
