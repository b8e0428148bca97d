"""Web Push when things go wrong: SSRF guards (allow-list at the moment of sending, no
redirect followed, a bounded answer, a deadline), retries with backoff while the push
service is unreachable, giving up (counted) when the ticket ends or the budget is spent, and
a staff action never waiting for any of it."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from agent.adapters.webpush import WebPushSender
from agent.core.clock import SystemClock
from agent.core.push import EndpointPolicy, PushMessage, check_subscription
from tests.integration.queue_fixtures import join, queue_config, staff_headers
from tests.integration.test_push import metric, push_section, subscribe, wait_until
from tests.push_endpoint import Browser, PushEndpoint


@pytest.fixture
async def endpoint() -> AsyncIterator[PushEndpoint]:
    service = PushEndpoint()
    await service.start()
    try:
        yield service
    finally:
        await service.stop()


async def called_with(
    write_config: Any, start_agent: Any, endpoint: PushEndpoint, mode: str, **push: Any
) -> tuple[Any, httpx.AsyncClient, dict[str, Any], dict[str, str], float]:
    """An agent, a subscribed ticket on an endpoint in ``mode``, called by staff; returns
    how long the call took to answer."""
    agent = await start_agent(queue_config(write_config, extra=push_section(endpoint, **push)))
    client = httpx.AsyncClient(base_url=agent.base_url, timeout=10)
    ticket = (await join(client, agent))["ticket"]
    assert await subscribe(client, ticket["id"], Browser().subscription(endpoint.url(mode, mode)))
    staff = await staff_headers(client, agent.components.config)
    started = time.monotonic()
    r = await client.post("/api/v1/queues/advice/call-next", headers=staff)
    assert r.status_code == 200
    return agent, client, ticket, staff, time.monotonic() - started


async def test_a_redirect_is_not_followed(write_config, start_agent, endpoint) -> None:
    agent, client, *_ = await called_with(write_config, start_agent, endpoint, "redirect")
    await wait_until(lambda: metric(agent, "retail_edge_push_failed_total", reason="redirect"))
    await asyncio.sleep(0.5)
    assert len(endpoint.received) == 1 and endpoint.elsewhere_hits == 0
    assert metric(agent, "retail_edge_push_given_up_total", reason="refused") == 1
    await client.aclose()


async def test_a_huge_answer_is_read_only_up_to_its_bound(
    write_config, start_agent, endpoint
) -> None:
    agent, client, *_ = await called_with(write_config, start_agent, endpoint, "huge")
    reason = "response_too_large"
    started = time.monotonic()
    await wait_until(lambda: metric(agent, "retail_edge_push_failed_total", reason=reason))
    assert time.monotonic() - started < 2
    assert metric(agent, "retail_edge_push_sent_total", kind="called") == 0
    await client.aclose()


async def test_a_hanging_endpoint_times_out_and_never_holds_up_staff(
    write_config, start_agent, endpoint
) -> None:
    agent, client, _, _, answered_in = await called_with(
        write_config, start_agent, endpoint, "hang", timeout_s=0.5, retry_for_s=1.5
    )
    assert answered_in < 0.5  # the call answered while the push was still hanging
    await wait_until(
        lambda: metric(agent, "retail_edge_push_given_up_total", reason="retry_budget")
    )
    timeouts = metric(agent, "retail_edge_push_failed_total", reason="timeout")
    assert timeouts >= 2 and len(endpoint.received) == timeouts  # retried, each one bounded
    await client.aclose()


async def test_the_allow_list_is_checked_again_when_sending(endpoint) -> None:
    """A subscription stored under an older config: the sender refuses without connecting."""
    phone = Browser()
    url = endpoint.url("old")
    subscription = check_subscription(
        EndpointPolicy.of((endpoint.origin,)),
        url,
        phone.p256dh,
        phone.subscription(url)["keys"]["auth"],
    )
    sender = WebPushSender(
        bytes(range(1, 33)),
        "mailto:a@b.example",
        EndpointPolicy.of(("fcm.googleapis.com",)),
        SystemClock(),
    )
    result = await sender.send(PushMessage(subscription, b"{}", 60, "high"))
    await sender.aclose()
    assert (result.outcome, result.reason) == ("refused", "not_allowed")
    assert endpoint.received == []


async def test_offline_pushes_are_retried_then_delivered_when_the_link_returns(
    write_config, start_agent, endpoint
) -> None:
    phone = Browser()
    agent = await start_agent(
        queue_config(write_config, extra=push_section(endpoint, retry_for_s=30.0))
    )
    client = httpx.AsyncClient(base_url=agent.base_url, timeout=10)
    ticket = (await join(client, agent))["ticket"]
    assert await subscribe(client, ticket["id"], phone.subscription(endpoint.url("o"))) == 204
    await endpoint.stop()  # the "internet" is down: connections are refused
    staff = await staff_headers(client, agent.components.config)
    await client.post("/api/v1/queues/advice/call-next", headers=staff)
    failed = "retail_edge_push_failed_total"
    await wait_until(lambda: metric(agent, failed, reason="unreachable") >= 3)
    await endpoint.start()  # back (same port)
    received = await endpoint.wait_for(1)
    assert phone.decrypt(received[0].body)["type"] == "called"
    await wait_until(lambda: metric(agent, "retail_edge_push_sent_total", kind="called") == 1)
    # Nothing the central side needs was lost meanwhile: the outbox has every event.
    types = [json.loads(e.body)["type"] for e in agent.components.outbox.pending(0, 100)]
    assert types[-3:] == ["queue.joined", "queue.approaching", "queue.called"]
    await client.aclose()


async def test_a_push_still_failing_when_the_ticket_ends_is_given_up(
    write_config, start_agent, endpoint
) -> None:
    agent, client, ticket, staff, _ = await called_with(
        write_config, start_agent, endpoint, "error", retry_for_s=30.0
    )
    await wait_until(
        lambda: metric(agent, "retail_edge_push_failed_total", reason="server_error") >= 2
    )
    await client.post(f"/api/v1/tickets/{ticket['id']}/served", headers=staff)
    await wait_until(
        lambda: metric(agent, "retail_edge_push_given_up_total", reason="ticket_ended")
    )
    attempts = len(endpoint.received)
    await asyncio.sleep(0.8)
    assert len(endpoint.received) == attempts  # no attempt after giving up
    gaps = [b.at - a.at for a, b in zip(endpoint.received, endpoint.received[1:], strict=False)]
    assert all(gap >= 0.05 for gap in gaps), gaps  # backed off (0.1 s first, x0.5-1 jitter)
    await client.aclose()


async def test_gone_forgets_the_subscription(write_config, start_agent, endpoint) -> None:
    agent, client, *_ = await called_with(write_config, start_agent, endpoint, "gone")
    await wait_until(lambda: metric(agent, "retail_edge_push_failed_total", reason="gone"))
    store = agent.components.push._subscriptions
    await agent.components.push.idle()
    assert await agent.components.uow.read(store.count) == 0
    await client.aclose()
