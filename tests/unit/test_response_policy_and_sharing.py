"""The pure ASGI response policy (issue 17: it replaced a BaseHTTPMiddleware) and hub
messages encoded once for every stream that sends them."""

from __future__ import annotations

import asyncio

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
