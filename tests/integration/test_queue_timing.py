"""Time-driven queue behaviour with a fake clock: late flag, auto no-show, number reset."""

from __future__ import annotations

import asyncio
import json

import httpx

from agent.bootstrap import build
from agent.core.clock import ManualClock
from agent.services.queue import JoinRequest
from tests.helpers import eventually
from tests.integration.queue_fixtures import queue_config, staff_headers


async def test_late_flag_then_auto_no_show(write_config) -> None:
    clock = ManualClock()
    components = build(queue_config(write_config), clock=clock)
    await components.queues.load()
    try:
        queues = components.queues
        token = queues.tokens.rotating("advice", clock.now().timestamp())
        ticket, _ = await queues.join("advice", JoinRequest(token), "c1")
        await queues.call_next("advice", "tablet-1")
        grace = queues.queue_config("advice").grace_s
        auto = queues.queue_config("advice").auto_no_show_s
        clock.advance(grace - 1)
        assert queues.queue_view("advice").called[0].late is False
        clock.advance(2)
        assert queues.queue_view("advice").called[0].late is True
        assert await queues.expire_overdue_calls() == 0  # late is a flag, staff decide
        clock.advance(auto - grace)
        assert await queues.expire_overdue_calls() == 1
        after = await queues.ticket(ticket.id)
        assert after is not None and after.state.value == "no_show"
        types = [json.loads(e.body)["type"] for e in components.outbox.pending(0, 100)]
        assert types[-1] == "queue.no_show"
    finally:
        components.runner.call(components.database.close)
        components.runner.close()


async def test_ticket_numbers_restart_each_store_day(write_config) -> None:
    clock = ManualClock()
    components = build(queue_config(write_config), clock=clock)
    await components.queues.load()
    try:
        queues = components.queues
        numbers = []
        for _ in range(2):
            token = queues.tokens.rotating("advice", clock.now().timestamp())
            numbers.append((await queues.join("advice", JoinRequest(token), "c"))[0].number)
        clock.advance(24 * 3600)
        token = queues.tokens.rotating("advice", clock.now().timestamp())
        numbers.append((await queues.join("advice", JoinRequest(token), "c"))[0].number)
        assert numbers == [1, 2, 1]
    finally:
        components.runner.call(components.database.close)
        components.runner.close()


async def test_two_tablets_see_the_same_changes(write_config, start_agent) -> None:
    agent = await start_agent(queue_config(write_config))
    async with httpx.AsyncClient(base_url=agent.base_url, timeout=10) as client:
        tablets = [
            await staff_headers(client, agent.components.config, f"tablet-{n}") for n in (1, 2)
        ]

        # What each tablet was shown. A tablet's frame waits a moment for the changes right
        # behind it (agent/web/staff_api.py), so the test lets each change show before the
        # next: the point is that both tablets see the same states in the same order.
        shown: list[list[str]] = [[], []]

        async def first_change(headers: dict[str, str], seen: list[str]) -> list[str]:
            async with client.stream("GET", "/api/v1/staff/stream", headers=headers) as s:
                event = None
                async for line in s.aiter_lines():
                    if line.startswith("event: "):
                        event = line[7:]
                    elif line.startswith("data: ") and event == "queue":
                        view = json.loads(line[6:])
                        if view["queue"] == "advice":
                            seen.append(
                                ",".join(t["state"] for t in view["waiting"] + view["called"])
                            )
                            if len(seen) == 3:
                                return seen
            return seen

        watchers = [
            asyncio.create_task(first_change(h, seen))
            for h, seen in zip(tablets, shown, strict=True)
        ]
        await asyncio.sleep(0.3)
        token = agent.components.queues.tokens.rotating(
            "advice", agent.components.clock.now().timestamp()
        )
        r = await client.post("/api/v1/queues/advice/tickets", json={"window_token": token})
        assert r.status_code == 201
        await eventually(lambda: all(len(seen) == 2 for seen in shown), message="the join shown")
        r = await client.post("/api/v1/queues/advice/call-next", headers=tablets[0])
        assert r.status_code == 200
        views = await asyncio.wait_for(asyncio.gather(*watchers), timeout=10)
        assert views[0] == views[1] == ["", "waiting", "called"]


async def test_late_tickets_are_not_remembered_once_ended(write_config) -> None:
    """The late flag's memory holds the called tickets late now, not every ticket that was
    ever late: each one served or gone as a no-show was kept for the agent's lifetime."""
    clock = ManualClock()
    components = build(queue_config(write_config), clock=clock)
    await components.queues.load()
    try:
        queues = components.queues
        grace = queues.queue_config("advice").grace_s
        for _ in range(20):
            token = queues.tokens.rotating("advice", clock.now().timestamp())
            await queues.join("advice", JoinRequest(token), "c1")
            called = await queues.call_next("advice", "tablet-1")
            clock.advance(grace + 1)
            await queues.expire_overdue_calls()  # flags it late
            await queues.served(called.id)
        await queues.expire_overdue_calls()
        remembered = queues._timers._flagged_late  # the memory under test
        assert not any(remembered.values())
    finally:
        components.runner.call(components.database.close)
        components.runner.close()
