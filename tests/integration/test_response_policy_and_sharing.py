"""The pure ASGI response policy (issue 17: it replaced a BaseHTTPMiddleware), hub messages
encoded once for every stream that sends them, and views written by pydantic's serializer
with exactly the JSON they had."""

from __future__ import annotations

import asyncio
import json

import httpx
from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from agent.metrics import Metrics
from agent.services.hub import Hub
from agent.web.app import create_app
from agent.web.sse import message_frame, sse_frame


async def test_default_headers_no_store_and_latency_by_route_template() -> None:
    router = APIRouter()

    @router.get("/api/v1/things/{thing_id}")
    async def thing(thing_id: str) -> dict[str, str]:
        return {"id": thing_id}

    @router.get("/page")
    async def page() -> PlainTextResponse:
        return PlainTextResponse("hi", headers={"X-Frame-Options": "SAMEORIGIN"})

    metrics = Metrics()
    transport = httpx.ASGITransport(app=create_app([router], metrics))
    async with httpx.AsyncClient(transport=transport, base_url="http://agent") as client:
        api = await client.get("/api/v1/things/secret-id-1")
        html = await client.get("/page")
        missing = await client.get("/nowhere")
    assert api.json() == {"id": "secret-id-1"}
    assert api.headers["cache-control"] == "no-store"
    assert api.headers["x-content-type-options"] == "nosniff"
    assert html.headers["x-frame-options"] == "SAMEORIGIN"  # a route's own header is kept
    assert "cache-control" not in html.headers  # not an API answer
    assert missing.status_code == 404 and missing.headers["referrer-policy"] == "no-referrer"
    sample = metrics.registry.get_sample_value
    labels = {"route": "/api/v1/things/{thing_id}", "status": "200"}
    assert sample("retail_edge_http_request_seconds_count", labels) == 1
    assert (
        sample("retail_edge_http_request_seconds_count", {"route": "unmatched", "status": "404"})
        == 1
    )


async def test_a_hub_message_is_encoded_once_for_all_its_streams() -> None:
    hub = Hub()
    view = {"queue": "advice", "tickets": [{"number": n} for n in range(500)]}
    with hub.subscribe("staff") as a, hub.subscribe("staff") as b, hub.subscribe("staff") as c:
        hub.publish("staff", "queue", view)
        frames = [message_frame(await asyncio.wait_for(s.queue.get(), 1)) for s in (a, b, c)]  # type: ignore[arg-type]
    assert frames[0] == sse_frame("queue", view)
    assert frames[1] is frames[0] and frames[2] is frames[0]  # the same string, built once


async def test_stream_frames_of_views_are_the_json_they_always_were(
    write_config, start_agent
) -> None:
    """sse_frame writes views with pydantic's serializer in one step (issue 17); what a page
    reads must be exactly the JSON of `to_json` + `json.dumps`: the same model, same fields."""
    from agent.services.queue.tickets import JoinRequest
    from agent.web.models import to_json
    from tests.integration.queue_fixtures import queue_config

    agent = await start_agent(queue_config(write_config))
    queues = agent.components.queues
    token = queues.static_token("pickup")
    tickets = [
        (await queues.join("pickup", JoinRequest(token, name=name), f"10.0.0.{i}"))[0]
        for i, name in enumerate(["Zoé", "Ana", ""])
    ]
    called = await queues.call_next("pickup", None)  # a called ticket: called_at in the JSON
    tickets = [called, *tickets[1:]]
    views: list[object] = [queues.view(t) for t in tickets]
    views += [queues.staff_view(tickets[0]), queues.queue_view("pickup"), await queues.board()]
    for view in views:
        old = json.dumps(view, separators=(",", ":"), ensure_ascii=False, default=to_json)
        frame = sse_frame("x", view)
        assert frame == f"event: x\ndata: {old}\n\n", type(view).__name__
