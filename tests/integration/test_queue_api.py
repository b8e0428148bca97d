"""The virtual-queue HTTP API: every transition, every error, never a 5xx (contract §3)."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from agent import tools
from tests.integration.queue_fixtures import join, queue_config, staff_headers, token

TICKET_KEYS = {"id", "queue", "number", "state", "position", "eta", "created_at", "called_at"}


@pytest.fixture
async def agent(write_config, start_agent):  # type: ignore[no-untyped-def]
    return await start_agent(queue_config(write_config))


@pytest.fixture
async def client(agent):  # type: ignore[no-untyped-def]
    async with httpx.AsyncClient(base_url=agent.base_url, timeout=10) as c:
        yield c


def outbox_types(agent) -> list[str]:  # type: ignore[no-untyped-def]
    entries = agent.components.outbox.pending(0, 1000)
    return [json.loads(e.body)["type"] for e in entries]


async def test_join_returns_a_ticket_and_a_secret_and_sets_a_cookie(agent, client) -> None:
    created = await join(client, agent, name="Camille", party_size=2, locale="fr")
    ticket, secret = created["ticket"], created["secret"]
    assert set(ticket) >= TICKET_KEYS
    assert ticket["state"] == "waiting" and ticket["position"] == 1 and ticket["number"] == 1
    assert set(ticket["eta"]) == {"low_s", "high_s"}
    assert ticket["eta"]["low_s"] <= ticket["eta"]["high_s"]
    assert len(secret) >= 32
    assert client.cookies.get(f"rt_{ticket['id']}") == secret
    # Cookie and header both authenticate.
    assert (await client.get(f"/api/v1/tickets/{ticket['id']}")).json()["id"] == ticket["id"]
    fresh = httpx.AsyncClient(base_url=agent.base_url)
    async with fresh:
        r = await fresh.get(
            f"/api/v1/tickets/{ticket['id']}", headers={"Authorization": f"Ticket {secret}"}
        )
        assert r.status_code == 200
    # First in line, so at once within notify_position (default 2): contract 8.6.
    assert outbox_types(agent)[-2:] == ["queue.joined", "queue.approaching"]


async def test_numbers_and_positions_follow_arrival(agent, client) -> None:
    tickets = [(await join(client, agent))["ticket"] for _ in range(3)]
    assert [t["number"] for t in tickets] == [1, 2, 3]
    assert [t["position"] for t in tickets] == [1, 2, 3]
    assert tickets[2]["eta"]["high_s"] >= tickets[0]["eta"]["high_s"]


async def test_customer_auth_errors(agent, client) -> None:
    ticket = (await join(client, agent))["ticket"]
    async with httpx.AsyncClient(base_url=agent.base_url) as stranger:
        url = f"/api/v1/tickets/{ticket['id']}"
        assert (await stranger.get(url)).status_code == 401
        wrong = {"Authorization": "Ticket not-the-secret"}
        assert (await stranger.get(url, headers=wrong)).status_code == 403
        assert (await stranger.delete(url, headers=wrong)).status_code == 403
        assert (await stranger.get(f"{url}/stream", headers=wrong)).status_code == 403
        # An id that does not exist answers exactly like a wrong secret: no probing.
        r = await stranger.get("/api/v1/tickets/doesnotexist", headers=wrong)
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({}, 422),
        ({"window_token": ""}, 422),
        ({"window_token": "x", "party_size": 0}, 422),
        ({"window_token": "x", "party_size": "two"}, 422),
        ({"window_token": "x", "phone": "0612345678"}, 422),
        ({"window_token": "x", "locale": "de"}, 422),
        ({"window_token": "x", "admin": True}, 422),
        ({"window_token": "x", "name": "n" * 41}, 422),
        ({"window_token": "r1.forged"}, 403),
        ([], 422),
        ("just a string", 422),
    ],
)
async def test_bad_join_bodies_get_a_clear_4xx(agent, client, body, status) -> None:
    r = await client.post("/api/v1/queues/advice/tickets", json=body)
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["code"] and error["message"]


async def test_non_json_and_unknown_queue(agent, client) -> None:
    r = await client.post(
        "/api/v1/queues/advice/tickets",
        content=b"\x00\xffnot json",
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 422
    r = await client.post("/api/v1/queues/nope/tickets", json={"window_token": "x"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    assert (await client.get("/api/v1/queues/nope/summary")).status_code == 404


async def test_expired_window_token_is_refused_with_a_human_message(agent, client) -> None:
    queues = agent.components.queues
    old = queues.tokens.rotating("advice", 1_000_000.0)  # a photo of the window long ago
    r = await client.post("/api/v1/queues/advice/tickets", json={"window_token": old})
    assert r.status_code == 403
    assert r.json()["error"] == {
        "code": "window_token_expired",
        "message": "This code has expired. Please scan the code in the shop window again.",
    }
    # The static sticker of one queue does not open another.
    sticker = token(agent, "pickup")
    r = await client.post("/api/v1/queues/advice/tickets", json={"window_token": sticker})
    assert r.status_code == 403
    assert (await join(client, agent, "pickup"))["ticket"]["queue"] == "pickup"


async def test_full_queue(write_config, start_agent) -> None:
    agent = await start_agent(queue_config(write_config, max_waiting=2))
    async with httpx.AsyncClient(base_url=agent.base_url) as client:
        await join(client, agent)
        await join(client, agent)
        r = await client.post("/api/v1/queues/advice/tickets", json={"window_token": token(agent)})
        assert r.status_code == 409 and r.json()["error"]["code"] == "queue_full"
        assert (await client.get("/api/v1/queues/advice/summary")).json()["full"] is True


async def test_closed_store_refuses_politely(write_config, start_agent) -> None:
    closed = "\n[opening_hours]\n" + "\n".join(
        f'{d} = "closed"' for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    )
    agent = await start_agent(queue_config(write_config, extra=closed))
    async with httpx.AsyncClient(base_url=agent.base_url) as client:
        r = await client.post("/api/v1/queues/advice/tickets", json={"window_token": token(agent)})
        assert r.status_code == 403 and r.json()["error"]["code"] == "closed"
        assert "closed" in r.json()["error"]["message"]


async def test_joins_are_rate_limited_per_client(write_config, start_agent) -> None:
    agent = await start_agent(queue_config(write_config, http="joins_per_client = 2"))
    async with httpx.AsyncClient(base_url=agent.base_url) as client:
        await join(client, agent)
        await join(client, agent)
        r = await client.post("/api/v1/queues/advice/tickets", json={"window_token": token(agent)})
        assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited"


async def test_leave_and_snooze(agent, client) -> None:
    tickets = [(await join(client, agent))["ticket"] for _ in range(4)]
    first = tickets[0]["id"]
    r = await client.post(f"/api/v1/tickets/{first}/snooze")
    assert r.status_code == 200 and r.json()["position"] == 4 and r.json()["snoozed"] is True
    r = await client.post(f"/api/v1/tickets/{first}/snooze")
    assert r.status_code == 409 and r.json()["error"]["code"] == "already_snoozed"
    # A customer's refusal is worded in their ticket's language unless the page asks otherwise.
    assert r.json()["error"]["message"] == "You have already asked for more time once."
    r = await client.post(f"/api/v1/tickets/{first}/snooze?lang=fr")
    assert r.json()["error"]["message"] == "Vous avez déjà demandé un peu plus de temps une fois."
    r = await client.delete(f"/api/v1/tickets/{tickets[1]['id']}")
    assert r.status_code == 200 and r.json()["state"] == "left"
    r = await client.delete(f"/api/v1/tickets/{tickets[1]['id']}")
    assert r.status_code == 409
    assert (await client.get(f"/api/v1/tickets/{tickets[2]['id']}")).json()["position"] == 1
    assert outbox_types(agent).count("queue.left") == 1


async def test_staff_endpoints_refuse_without_a_valid_token(agent, client) -> None:
    ticket = (await join(client, agent))["ticket"]
    calls = [
        ("GET", "/api/v1/queues/advice"),
        ("POST", "/api/v1/queues/advice/call-next"),
        ("POST", f"/api/v1/tickets/{ticket['id']}/served"),
        ("POST", f"/api/v1/tickets/{ticket['id']}/no-show"),
        ("POST", f"/api/v1/tickets/{ticket['id']}/recall"),
        ("GET", "/api/v1/staff/stream"),
    ]
    for method, url in calls:
        for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic x"}):
            r = await client.request(method, url, headers=headers)
            assert r.status_code == 401, (method, url, headers, r.text)
            assert r.json()["error"]["code"] == "unauthorized"


async def test_staff_flow_call_serve_no_show_recall(agent, client) -> None:
    staff = await staff_headers(client, agent.components.config)
    a, b = [(await join(client, agent))["ticket"] for _ in range(2)]
    view = (await client.get("/api/v1/queues/advice", headers=staff)).json()
    assert [t["id"] for t in view["waiting"]] == [a["id"], b["id"]] and view["called"] == []
    called = (await client.post("/api/v1/queues/advice/call-next", headers=staff)).json()
    assert called["id"] == a["id"] and called["state"] == "called" and called["called_at"]
    assert (await client.get(f"/api/v1/tickets/{a['id']}")).json()["state"] == "called"
    r = await client.post(f"/api/v1/tickets/{b['id']}/served", headers=staff)
    assert r.status_code == 409  # b is still waiting
    assert (await client.post(f"/api/v1/tickets/{a['id']}/served", headers=staff)).json()[
        "state"
    ] == "served"
    called_b = (await client.post("/api/v1/queues/advice/call-next", headers=staff)).json()
    assert called_b["id"] == b["id"]
    r = await client.post(f"/api/v1/tickets/{b['id']}/no-show", headers=staff)
    assert r.json()["state"] == "no_show"
    r = await client.post(f"/api/v1/tickets/{b['id']}/recall", headers=staff)
    assert r.json()["state"] == "called" and r.json()["recalls"] == 1
    r = await client.post("/api/v1/queues/advice/call-next", headers=staff)
    assert r.status_code == 409 and r.json()["error"] == {
        "code": "nobody_waiting",
        "message": "Nobody is waiting in this queue.",
    }
    # The words follow the tablet's language; the code does not.
    french = staff | {"Accept-Language": "fr-FR,fr;q=0.9"}
    r = await client.post("/api/v1/queues/advice/call-next", headers=french)
    assert r.json()["error"] == {
        "code": "nobody_waiting",
        "message": "Personne n'attend dans cette file.",
    }
    r = await client.post("/api/v1/tickets/unknown-id/served", headers=staff)
    assert r.status_code == 404
    served = [
        json.loads(e.body)["data"]
        for e in agent.components.outbox.pending(0, 100)
        if json.loads(e.body)["type"] == "queue.served"
    ]
    assert len(served) == 1 and {"wait_s", "service_s"} <= set(served[0])
    types = outbox_types(agent)
    assert types.count("queue.called") == 2 and types.count("queue.no_show") == 1
    assert types.count("queue.recalled") == 1  # a recall is its own event (contract 8.6)


async def test_pairing_codes_are_single_use_and_tokens_revocable(agent, client) -> None:
    config = agent.components.config
    code = tools.pairing_code(config, "tablet-9")
    body = {"code": code, "device_name": "tablet-9"}
    first = await client.post("/api/v1/pair", json=body)
    assert first.status_code == 200
    again = await client.post("/api/v1/pair", json=body)
    assert again.status_code == 403 and again.json()["error"]["code"] == "invalid_code"
    assert (
        await client.post("/api/v1/pair", json={"code": "12", "device_name": "x"})
    ).status_code == 422
    headers = {"Authorization": f"Bearer {first.json()['token']}"}
    assert (await client.get("/api/v1/queues/advice", headers=headers)).status_code == 200
    assert tools.revoke_device(config, "tablet-9") == 1
    assert (await client.get("/api/v1/queues/advice", headers=headers)).status_code == 401


async def test_pairing_guesses_are_limited(agent, client) -> None:
    codes = [f"{n:06d}" for n in range(12)]
    statuses = []
    for code in codes:
        r = await client.post("/api/v1/pair", json={"code": code, "device_name": "x"})
        statuses.append(r.status_code)
    assert statuses[:10] == [403] * 10 and statuses[10:] == [429, 429]
    # Even the right code is refused while the client is locked out.
    good = tools.pairing_code(agent.components.config, "t")
    r = await client.post("/api/v1/pair", json={"code": good, "device_name": "t"})
    assert r.status_code == 429


async def test_ticket_stream_pushes_the_call(agent, client) -> None:
    staff = await staff_headers(client, agent.components.config)
    ticket = (await join(client, agent))["ticket"]
    states = []
    async with client.stream("GET", f"/api/v1/tickets/{ticket['id']}/stream") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        event = None
        async for line in stream.aiter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "ticket":
                states.append(json.loads(line[6:])["state"])
                if states == ["waiting"]:
                    await client.post("/api/v1/queues/advice/call-next", headers=staff)
                if states[-1] == "called":
                    break
    assert states == ["waiting", "called"]


async def test_acknowledged_tickets_survive_a_restart(write_config, start_agent) -> None:
    config = queue_config(write_config)
    agent = await start_agent(config)
    async with httpx.AsyncClient(base_url=agent.base_url) as client:
        created = [await join(client, agent) for _ in range(3)]
    await agent.daemon.stop()
    again = await start_agent(config)
    async with httpx.AsyncClient(base_url=again.base_url) as client:
        for n, c in enumerate(created, start=1):
            r = await client.get(
                f"/api/v1/tickets/{c['ticket']['id']}",
                headers={"Authorization": f"Ticket {c['secret']}"},
            )
            assert r.json()["state"] == "waiting" and r.json()["position"] == n
        # Numbering goes on from where it was on the same day.
        assert (await join(client, again))["ticket"]["number"] == 4


async def test_garbage_never_gets_a_5xx(agent, client) -> None:
    staff = await staff_headers(client, agent.components.config)
    requests = [
        ("POST", "/api/v1/queues/advice/tickets", b"{", {"content-type": "application/json"}),
        (
            "POST",
            "/api/v1/queues/advice/tickets",
            b"a=b",
            {"content-type": "application/x-www-form-urlencoded"},
        ),
        ("POST", "/api/v1/queues/" + "x" * 5000 + "/tickets", b"{}", {}),
        ("GET", "/api/v1/tickets/" + "%00" * 10, b"", {}),
        ("GET", "/api/v1/tickets/" + "a" * 500, b"", {"Authorization": "Ticket x"}),
        (
            "POST",
            "/api/v1/pair",
            b'{"code": 123456, "device_name": null}',
            {"content-type": "application/json"},
        ),
        ("POST", "/api/v1/pair", b"\xff" * 100, {"content-type": "application/json"}),
        ("POST", "/api/v1/queues/advice/call-next", b"garbage", staff),
        ("POST", "/api/v1/tickets/%2e%2e/served", b"", staff),
        ("DELETE", "/api/v1/tickets/x", b"", {"Authorization": "Ticket " + "x" * 10_000}),
    ]
    for method, url, content, headers in requests:
        r = await client.request(method, url, content=content, headers=headers)
        assert r.status_code < 500, (method, url[:60], r.status_code, r.text[:200])
        if r.headers.get("content-type", "").startswith("application/json"):
            assert "error" in r.json() or r.status_code < 400


async def test_tablets_calling_next_at_the_same_moment_call_different_tickets(
    write_config, start_agent
) -> None:
    agent = await start_agent(queue_config(write_config))
    queues = agent.components.queues
    async with httpx.AsyncClient(base_url=agent.base_url, timeout=10) as client:
        joined = [(await join(client, agent))["ticket"]["number"] for _ in range(4)]
    called = await asyncio.gather(*(queues.call_next("advice", f"tablet-{n}") for n in range(3)))
    assert sorted(t.number for t in called) == joined[:3]
    assert [t.number for t in queues._queues["advice"].book.waiting()] == joined[3:]
