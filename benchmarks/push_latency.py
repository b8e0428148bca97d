"""Staff "call" -> the customer is told, with 500 waiting tickets subscribed to Web Push.

Two paths from the same call (`POST /api/v1/queues/{q}/call-next` over HTTP, durable commit
included): (1) the encrypted Web Push request leaving the agent, timed where it arrives at a
push service served on loopback by this benchmark (it decrypts each one, RFC 8291, to know it
is the `called` push of the right ticket); (2) the `ticket` frame on that ticket's own event
stream, which is what the open ticket page shows. The floor is an empty event on an event
stream of the same server (the staff stream's relay of a hub message: the ticket stream only
ever sends its ticket), so the difference is what the agent adds.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import tempfile
import time
from pathlib import Path

import http_ece
import httpx
import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from agent import tools
from agent.bootstrap import Components, assemble, build
from agent.config.loader import parse_config
from agent.config.model import AgentConfig
from agent.services.hub import STAFF_TOPIC
from benchmarks.common import Figure, figure, percentile


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Phones:
    """The browsers' side: one key pair and auth secret per subscription, and the push
    service they subscribed to (on loopback), which records when each push arrived."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.keys: dict[str, tuple[ec.EllipticCurvePrivateKey, bytes]] = {}
        self.called: dict[str, float] = {}  # ticket id -> arrival of its `called` push
        self.arrived = asyncio.Event()

    def subscription(self, ticket_id: str) -> dict[str, object]:
        key, auth = ec.generate_private_key(ec.SECP256R1()), os.urandom(16)
        self.keys[ticket_id] = (key, auth)
        point = key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {
            "endpoint": f"http://127.0.0.1:{self.port}/push/{ticket_id}",
            "keys": {"p256dh": _b64(point), "auth": _b64(auth)},
        }

    async def _push(self, request: Request) -> Response:
        at = time.perf_counter()
        ticket_id = request.path_params["name"]
        key, auth = self.keys[ticket_id]
        body = http_ece.decrypt(
            await request.body(), private_key=key, auth_secret=auth, version="aes128gcm"
        )
        if json.loads(body).get("type") == "called":
            self.called[ticket_id] = at
            self.arrived.set()
        return Response(status_code=201)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/push/{name}", self._push, methods=["POST"])])


async def _measure(samples: int, waiting: int) -> tuple[list[float], list[float], list[float]]:
    phones = _Phones()
    server = uvicorn.Server(
        uvicorn.Config(phones.app(), host="127.0.0.1", port=phones.port, log_level="warning")
    )
    serving = asyncio.create_task(server.serve())
    with tempfile.TemporaryDirectory() as tmp:
        config = parse_config(
            {
                "store": {"id": "bench-01", "name": "Bench", "timezone": "UTC"},
                "storage": {"path": str(Path(tmp) / "agent.db")},
                "http": {
                    "bind": "127.0.0.1",
                    "port": 0,
                    "public_url": "http://127.0.0.1",
                    "joins_per_client": 1_000_000,
                    "joins_per_token_per_minute": 10_000,
                },
                "push": {"endpoint_hosts": [f"http://127.0.0.1:{phones.port}"]},
                "queues": {
                    "advice": {"label": "A", "window_token": "static", "max_waiting": 10_000}
                },
            },
            source=Path(tmp) / "bench.toml",
        )
        components = build(config)
        daemon = assemble(components)
        await daemon.start()
        try:
            base = f"http://127.0.0.1:{daemon.web.port}"
            limits = httpx.Limits(max_connections=50)
            async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client:
                return await _run(client, components, config, phones, samples, waiting)
        finally:
            await daemon.stop()
            server.should_exit = True
            await serving


async def _run(
    client: httpx.AsyncClient,
    components: Components,
    config: AgentConfig,
    phones: _Phones,
    samples: int,
    waiting: int,
) -> tuple[list[float], list[float], list[float]]:
    code = tools.pairing_code(config, "bench")
    token = (await client.post("/api/v1/pair", json={"code": code, "device_name": "b"})).json()
    staff = {"Authorization": f"Bearer {token['token']}"}
    window = components.queues.static_token("advice")
    tickets: list[tuple[str, str]] = []
    for _ in range(samples + waiting):
        joined = await client.post("/api/v1/queues/advice/tickets", json={"window_token": window})
        body = joined.json()
        ticket_id, secret = body["ticket"]["id"], body["secret"]
        put = await client.put(
            f"/api/v1/tickets/{ticket_id}/push",
            json=phones.subscription(ticket_id),
            headers={"Authorization": f"Ticket {secret}"},
        )
        assert put.status_code == 204, put.text
        tickets.append((ticket_id, secret))

    floor_at: asyncio.Queue[float] = asyncio.Queue()

    async def staff_stream() -> None:
        async with client.stream("GET", "/api/v1/staff/stream", headers=staff) as stream:
            event = ""
            async for line in stream.aiter_lines():
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: ") and event == "ping":
                    floor_at.put_nowait(time.perf_counter())

    listener = asyncio.create_task(staff_stream())
    await asyncio.sleep(0.3)
    push: list[float] = []
    page: list[float] = []
    floor: list[float] = []
    for ticket_id, secret in tickets[:samples]:
        seen: asyncio.Queue[float] = asyncio.Queue()

        async def ticket_stream(
            ticket_id: str = ticket_id, secret: str = secret, seen: asyncio.Queue[float] = seen
        ) -> None:
            headers = {"Authorization": f"Ticket {secret}"}
            url = f"/api/v1/tickets/{ticket_id}/stream"
            async with client.stream("GET", url, headers=headers) as stream:
                async for line in stream.aiter_lines():
                    if line.startswith("data: ") and json.loads(line[6:])["state"] == "called":
                        seen.put_nowait(time.perf_counter())
                        return

        reading = asyncio.create_task(ticket_stream())
        await asyncio.sleep(0.05)  # the stream is open and has sent the waiting ticket
        phones.arrived.clear()
        started = time.perf_counter()
        called = await client.post("/api/v1/queues/advice/call-next", headers=staff)
        assert called.json()["id"] == ticket_id, "the benchmark calls its tickets in order"
        page.append(await asyncio.wait_for(seen.get(), 10) - started)
        while ticket_id not in phones.called:
            await asyncio.wait_for(phones.arrived.wait(), 10)
            phones.arrived.clear()
        push.append(phones.called[ticket_id] - started)
        await reading
        await client.post(f"/api/v1/tickets/{ticket_id}/served", headers=staff)
        started = time.perf_counter()
        components.hub.publish(STAFF_TOPIC, "ping", {})
        floor.append(await asyncio.wait_for(floor_at.get(), 10) - started)
    listener.cancel()
    return push, page, floor


def run(quick: bool) -> list[Figure]:
    waiting = 50 if quick else 500
    push, page, floor = asyncio.run(_measure(10 if quick else 100, waiting))
    ms = lambda xs, q: round(percentile(xs, q) * 1000, 2)  # noqa: E731
    floor_text = f"{ms(floor, 0.5)} / {ms(floor, 0.99)}"
    note = f"{waiting} waiting tickets subscribed; includes the call's durable commit"
    return [
        figure(
            "call -> Web Push request at the push service, p50 / p99",
            f"{ms(push, 0.5)} / {ms(push, 0.99)}",
            floor_text,
            "ms (baseline: an empty event on an SSE stream of the agent)",
            "p99 < 500 ms",
            note + "; aes128gcm encryption and VAPID signature included",
        ),
        figure(
            "call -> ticket page's event stream, p50 / p99",
            f"{ms(page, 0.5)} / {ms(page, 0.99)}",
            floor_text,
            "ms (baseline: an empty event on an SSE stream of the agent)",
            "p99 < 100 ms",
            note,
        ),
    ]


if __name__ == "__main__":
    import sys

    for f in run(quick="--quick" in sys.argv):
        print(f)
