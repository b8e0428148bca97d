"""Contract 8.7 through HTTP: walk-ins, counters, call this ticket, move, undo, staff leave;
every error (404, 409, 422, 401/403); two tablets acting on one ticket at once."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from agent.core.clock import ManualClock
from agent.core.readings import FootfallCount
from tests.integration.queue_fixtures import display_headers, join, queue_config, staff_headers

COUNTERS = """
[queues.desk]
label = "Desk"
window_token = "static"
counters = ["1", "2"]
"""


@pytest.fixture
async def agent(write_config, start_agent):  # type: ignore[no-untyped-def]
    return await start_agent(queue_config(write_config, extra=COUNTERS))


@pytest.fixture
async def client(agent):  # type: ignore[no-untyped-def]
    async with httpx.AsyncClient(base_url=agent.base_url, timeout=10) as c:
        yield c


def events(agent, kind: str) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    bodies = [json.loads(e.body) for e in agent.components.outbox.pending(0, 1000)]
    return [b["data"] for b in bodies if b["type"] == kind]


async def walk_in(
    client: httpx.AsyncClient, staff: dict[str, str], queue: str = "advice", **body: Any
) -> dict[str, Any]:
    r = await client.post(f"/api/v1/queues/{queue}/tickets", json=body, headers=staff)
    assert r.status_code == 201, r.text
    return dict(r.json()["ticket"])


# --- walk-ins -----------------------------------------------------------------------------------


async def test_staff_add_a_walk_in_without_a_window_token(write_config, start_agent) -> None:
    # Phones are limited to 2 joins per address here; a tablet adding walk-ins is not.
    agent = await start_agent(queue_config(write_config, http="joins_per_client = 2"))
    async with httpx.AsyncClient(base_url=agent.base_url, timeout=10) as client:
        staff = await staff_headers(client, agent.components.config)
        phone = (await join(client, agent))["ticket"]
        assert phone["source"] == "window" and phone["counter"] is None
        assert phone["left_reason"] is None
        r = await client.post(
            "/api/v1/queues/advice/tickets", json={"name": "Jo", "party_size": 3}, headers=staff
        )
        assert r.status_code == 201, r.text
        created = r.json()
        assert set(created) == {"ticket", "secret"}
        ticket = created["ticket"]
        assert ticket["source"] == "staff" and ticket["name"] == "Jo"
        assert ticket["party_size"] == 3 and ticket["position"] == 2 and ticket["number"] == 2
        assert f"rt_{ticket['id']}" not in client.cookies  # the tablet does not hold it
        numbers = [(await walk_in(client, staff))["number"] for _ in range(4)]
        assert numbers == [3, 4, 5, 6]
        assert len(events(agent, "queue.joined")) == 6


async def test_a_walk_in_needs_a_staff_token(agent, client) -> None:
    # Exactly what a join without a window token answered before walk-ins existed.
    before = {"error": {"code": "invalid_body", "message": "window_token: Field required"}}
    for body in ({}, {"name": "Jo"}):
        r = await client.post("/api/v1/queues/advice/tickets", json=body)
        assert r.status_code == 422 and r.json() == before
    r = await client.post(
        "/api/v1/queues/advice/tickets", json={}, headers={"Authorization": "Bearer nope"}
    )
    assert r.status_code == 401
    display = await display_headers(client, agent.components.config)
    r = await client.post("/api/v1/queues/advice/tickets", json={}, headers=display)
    assert r.status_code == 403
    staff = await staff_headers(client, agent.components.config)
    r = await client.post("/api/v1/queues/nope/tickets", json={}, headers=staff)
    assert r.status_code == 404
    assert events(agent, "queue.joined") == []


# --- counters and calls -------------------------------------------------------------------------


async def test_calls_carry_the_counter(agent, client) -> None:
    staff = await staff_headers(client, agent.components.config)
    a = await walk_in(client, staff, "desk")
    b = await walk_in(client, staff, "desk")
    r = await client.post("/api/v1/queues/desk/call-next", json={"counter": "9"}, headers=staff)
    assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_counter"
    r = await client.post("/api/v1/queues/desk/call-next", json={"counter": "2"}, headers=staff)
    assert r.status_code == 200 and r.json()["id"] == a["id"] and r.json()["counter"] == "2"
    r = await client.post(f"/api/v1/tickets/{b['id']}/call", json={"counter": "x"}, headers=staff)
    assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_counter"
    r = await client.post(f"/api/v1/tickets/{b['id']}/call", headers=staff)  # no body: no counter
    assert r.status_code == 200 and r.json()["counter"] is None
    called = events(agent, "queue.called")
    assert [c.get("counter") for c in called] == ["2", None]
    # A queue without counters takes any name (or none).
    c = await walk_in(client, staff)
    r = await client.post("/api/v1/queues/advice/call-next", json={"counter": "B"}, headers=staff)
    assert r.json()["id"] == c["id"] and r.json()["counter"] == "B"
    r = await client.post("/api/v1/queues/advice/call-next", json={"counter": 2}, headers=staff)
    assert r.status_code == 422  # not a string


async def test_call_this_ticket(agent, client) -> None:
    staff = await staff_headers(client, agent.components.config)
    first, _, third = [await walk_in(client, staff) for _ in range(3)]
    r = await client.post(f"/api/v1/tickets/{third['id']}/call", json={}, headers=staff)
    assert r.status_code == 200 and r.json()["state"] == "called" and r.json()["id"] == third["id"]
    r = await client.post(f"/api/v1/tickets/{third['id']}/call", headers=staff)
    assert r.status_code == 409 and r.json()["error"]["code"] == "not_waiting"
    assert r.json()["error"]["message"] == "Only a waiting ticket can be called."
    r = await client.post("/api/v1/tickets/nope/call", headers=staff)
    assert r.status_code == 404
    # The others keep their order; call-next takes the first.
    r = await client.post("/api/v1/queues/advice/call-next", headers=staff)
    assert r.json()["id"] == first["id"]


# --- move -----------------------------------------------------------------------------------------


async def test_move_keeps_the_join_time_and_takes_a_number_in_the_new_queue(agent, client) -> None:
    staff = await staff_headers(client, agent.components.config)
    early = await walk_in(client, staff, "advice")
    await asyncio.sleep(0.01)
    later = await walk_in(client, staff, "pickup")
    r = await client.post(
        f"/api/v1/tickets/{early['id']}/move", json={"queue": "pickup"}, headers=staff
    )
    assert r.status_code == 200, r.text
    moved = r.json()
    assert moved["queue"] == "pickup" and moved["created_at"] == early["created_at"]
    assert moved["position"] == 1 and moved["number"] == 2  # joined first; pickup's next number
    view = (await client.get("/api/v1/queues/pickup", headers=staff)).json()
    assert [t["id"] for t in view["waiting"]] == [early["id"], later["id"]]
    assert (await client.get("/api/v1/queues/advice", headers=staff)).json()["waiting"] == []
    (event,) = events(agent, "queue.moved")
    assert event == {
        "queue": "pickup",
        "ticket_id": early["id"],
        "number": 2,
        "from_queue": "advice",
        "from_number": early["number"],
    }
    # It is served from its new queue like any other.
    r = await client.post("/api/v1/queues/pickup/call-next", headers=staff)
    assert r.json()["id"] == early["id"]


@pytest.mark.parametrize(
    ("target", "status", "code"),
    [("nope", 422, "unknown_queue"), ("advice", 422, "same_queue"), ("", 422, "invalid_body")],
)
async def test_bad_moves(agent, client, target, status, code) -> None:
    staff = await staff_headers(client, agent.components.config)
    ticket = await walk_in(client, staff)
    r = await client.post(
        f"/api/v1/tickets/{ticket['id']}/move", json={"queue": target}, headers=staff
    )
    assert r.status_code == status and r.json()["error"]["code"] == code


async def test_only_a_waiting_ticket_moves(agent, client) -> None:
    staff = await staff_headers(client, agent.components.config)
    ticket = await walk_in(client, staff)
    await client.post("/api/v1/queues/advice/call-next", headers=staff)
    body = {"queue": "pickup"}
    r = await client.post(f"/api/v1/tickets/{ticket['id']}/move", json=body, headers=staff)
    assert r.status_code == 409 and r.json()["error"]["code"] == "not_waiting"
    r = await client.post("/api/v1/tickets/nope/move", json=body, headers=staff)
    assert r.status_code == 404
    r = await client.post(f"/api/v1/tickets/{ticket['id']}/move", headers=staff)
    assert r.status_code == 422  # the body is required


# --- undo -----------------------------------------------------------------------------------------


async def test_undo_within_a_minute_and_not_after(write_config, start_agent) -> None:
    clock = ManualClock()
    agent = await start_agent(queue_config(write_config), clock=clock)
    async with httpx.AsyncClient(base_url=agent.base_url, timeout=10) as client:
        staff = await staff_headers(client, agent.components.config)
        a, b, c = [await walk_in(client, staff) for _ in range(3)]
        await client.post("/api/v1/queues/advice/call-next", json={"counter": "1"}, headers=staff)
        clock.advance(120)
        r = await client.post(f"/api/v1/tickets/{a['id']}/served", headers=staff)
        assert r.json()["state"] == "served" and r.json()["undo_s"] == 60
        clock.advance(59)
        r = await client.post(f"/api/v1/tickets/{a['id']}/undo", headers=staff)
        assert r.status_code == 200, r.text
        assert r.json()["state"] == "called" and r.json()["counter"] == "1"
        assert r.json()["undo_s"] == 0
        r = await client.post(f"/api/v1/tickets/{a['id']}/undo", headers=staff)
        assert r.status_code == 409 and r.json()["error"]["code"] == "nothing_to_undo"
        # The estimator forgot the service it had learnt: it was not one.
        estimator = agent.components.queues._queues["advice"].estimator
        assert list(estimator._per_call) == []
        # Served again, and the minute passes: too late.
        await client.post(f"/api/v1/tickets/{a['id']}/served", headers=staff)
        clock.advance(60)
        r = await client.post(f"/api/v1/tickets/{a['id']}/undo", headers=staff)
        assert r.status_code == 409 and r.json()["error"]["code"] == "nothing_to_undo"

        # A no-show, undone: called again.
        await client.post("/api/v1/queues/advice/call-next", headers=staff)
        r = await client.post(f"/api/v1/tickets/{b['id']}/no-show", headers=staff)
        assert r.json()["state"] == "no_show"
        r = await client.post(f"/api/v1/tickets/{b['id']}/undo", headers=staff)
        assert r.json()["state"] == "called"

        # Staff take a waiting ticket out, then undo: back in its place.
        d = await walk_in(client, staff)
        r = await client.post(f"/api/v1/tickets/{c['id']}/left", headers=staff)
        assert r.json()["state"] == "left" and r.json()["left_reason"] == "staff"
        r = await client.post(f"/api/v1/tickets/{c['id']}/left", headers=staff)
        assert r.status_code == 409
        r = await client.post(f"/api/v1/tickets/{c['id']}/undo", headers=staff)
        assert r.json()["state"] == "waiting" and r.json()["position"] == 1
        assert r.json()["left_reason"] is None
        view = (await client.get("/api/v1/queues/advice", headers=staff)).json()
        assert [t["id"] for t in view["waiting"]] == [c["id"], d["id"]]

        undone = [(e["undone"], e["state"]) for e in events(agent, "queue.undone")]
        assert undone == [("served", "called"), ("no_show", "called"), ("left", "waiting")]
        r = await client.post("/api/v1/tickets/nope/undo", headers=staff)
        assert r.status_code == 404


async def test_a_customer_leaving_is_not_undone(agent, client) -> None:
    staff = await staff_headers(client, agent.components.config)
    created = await join(client, agent)
    ticket = created["ticket"]
    r = await client.delete(f"/api/v1/tickets/{ticket['id']}")
    assert r.json()["state"] == "left" and r.json()["left_reason"] == "customer"
    r = await client.post(f"/api/v1/tickets/{ticket['id']}/undo", headers=staff)
    assert r.status_code == 409
    (left,) = events(agent, "queue.left")
    assert left["reason"] == "customer"


async def test_an_automatic_no_show_is_not_undone(write_config, start_agent) -> None:
    clock = ManualClock()
    extra = '\n[queues.desk]\nwindow_token = "static"\nauto_no_show_s = 60\n'
    agent = await start_agent(queue_config(write_config, extra=extra), clock=clock)
    queues = agent.components.queues
    async with httpx.AsyncClient(base_url=agent.base_url, timeout=10) as client:
        staff = await staff_headers(client, agent.components.config)
        ticket = await walk_in(client, staff, "desk")
        await client.post("/api/v1/queues/desk/call-next", headers=staff)
        clock.advance(61)
        await queues.expire_overdue_calls()  # (or the daemon's own timer did it first)
        assert (await queues.ticket(ticket["id"])).state == "no_show"
        r = await client.post(f"/api/v1/tickets/{ticket['id']}/undo", headers=staff)
        assert r.status_code == 409  # a no-show nobody pressed: recall it instead
        r = await client.post(f"/api/v1/tickets/{ticket['id']}/recall", headers=staff)
        assert r.json()["state"] == "called"


# --- who may act, and two tablets at once ---------------------------------------------------------


async def test_new_staff_routes_refuse_without_a_tablet_token(agent, client) -> None:
    staff = await staff_headers(client, agent.components.config)
    ticket = await walk_in(client, staff)
    display = await display_headers(client, agent.components.config)
    routes = [
        (f"/api/v1/tickets/{ticket['id']}/call", {}),
        (f"/api/v1/tickets/{ticket['id']}/move", {"queue": "pickup"}),
        (f"/api/v1/tickets/{ticket['id']}/undo", None),
        (f"/api/v1/tickets/{ticket['id']}/left", None),
        ("/api/v1/queues/advice/call-next", {"counter": "1"}),
    ]
    for url, body in routes:
        for headers, status in (({}, 401), ({"Authorization": "Bearer nope"}, 401), (display, 403)):
            r = await client.post(url, json=body, headers=headers)
            assert r.status_code == status, (url, headers, r.text)
    # Nothing changed.
    view = (await client.get("/api/v1/queues/advice", headers=staff)).json()
    assert [t["id"] for t in view["waiting"]] == [ticket["id"]]


async def test_two_tablets_on_one_ticket_one_wins(agent, client) -> None:
    config = agent.components.config
    one, two = await staff_headers(client, config, "t1"), await staff_headers(client, config, "t2")
    ticket = await walk_in(client, one)
    url = f"/api/v1/tickets/{ticket['id']}"
    calls = await asyncio.gather(
        client.post(f"{url}/call", json={"counter": "1"}, headers=one),
        client.post(f"{url}/call", json={"counter": "2"}, headers=two),
    )
    assert sorted(r.status_code for r in calls) == [200, 409]
    ends = await asyncio.gather(
        client.post(f"{url}/served", headers=one), client.post(f"{url}/no-show", headers=two)
    )
    assert sorted(r.status_code for r in ends) == [200, 409]
    undos = await asyncio.gather(
        client.post(f"{url}/undo", headers=one), client.post(f"{url}/undo", headers=two)
    )
    assert sorted(r.status_code for r in undos) == [200, 409]
    assert len(events(agent, "queue.called")) == 1
    assert len(events(agent, "queue.undone")) == 1
    moves = await asyncio.gather(
        client.post(f"{url}/left", headers=one),
        client.post(f"{url}/move", json={"queue": "pickup"}, headers=two),
    )
    # Called again by the undo: staff can take it out, but it cannot move.
    assert [r.status_code for r in moves] == [200, 409]


# --- the entry queue ---------------------------------------------------------------------------------


async def test_an_entry_queue_calls_while_the_store_is_below_capacity(
    write_config, start_agent
) -> None:
    extra = '\n[queues.door]\nwindow_token = "static"\nentry = true\n\n[occupancy]\ncapacity = 3\n'
    agent = await start_agent(queue_config(write_config, extra=extra))
    queues, footfall = agent.components.queues, agent.components.footfall

    async def people(direction: str, n: int) -> None:
        await footfall.count(FootfallCount("main:" + direction, "main", direction, n, False, 0.0))

    async with httpx.AsyncClient(base_url=agent.base_url, timeout=10) as client:
        staff = await staff_headers(client, agent.components.config)
        await people("in", 2)
        for _ in range(4):
            await walk_in(client, staff, "door")
        # 2 inside, capacity 3: one call, and no more until someone leaves.
        await queues.expire_overdue_calls()
        door = queues._queues["door"].book
        assert len(door.called()) == 1
        await queues.expire_overdue_calls()
        assert len(door.called()) == 1
        (called,) = door.called()
        await people("in", 1)  # the called customer came in, and is served
        await client.post(f"/api/v1/tickets/{called.id}/served", headers=staff)
        await queues.expire_overdue_calls()
        assert door.called() == []  # full: 3 inside
        await people("out", 2)
        await queues.expire_overdue_calls()
        assert len(door.called()) == 2 and door.waiting_count() == 1
        assert {t.called_by for t in door.called()} == {"entry"}


async def test_the_new_fields_and_the_undo_survive_a_restart(write_config, start_agent) -> None:
    clock = ManualClock()
    config = queue_config(write_config, extra=COUNTERS)
    agent = await start_agent(config, clock=clock)
    async with httpx.AsyncClient(base_url=agent.base_url, timeout=10) as client:
        staff = await staff_headers(client, config)
        ticket = await walk_in(client, staff, "desk")
        await client.post("/api/v1/queues/desk/call-next", json={"counter": "1"}, headers=staff)
        await client.post(f"/api/v1/tickets/{ticket['id']}/served", headers=staff)
    await agent.daemon.stop()
    clock.advance(30)
    again = await start_agent(config, clock=clock)
    async with httpx.AsyncClient(base_url=again.base_url, timeout=10) as client:
        stored = await again.components.queues.ticket(ticket["id"])
        assert stored is not None and stored.source == "staff" and stored.counter == "1"
        assert stored.undo_state == "called"
        r = await client.post(f"/api/v1/tickets/{ticket['id']}/undo", headers=staff)
        assert r.status_code == 200 and r.json()["state"] == "called"
        assert r.json()["counter"] == "1" and r.json()["source"] == "staff"
        view = (await client.get("/api/v1/queues/desk", headers=staff)).json()
        assert [t["id"] for t in view["called"]] == [ticket["id"]]
