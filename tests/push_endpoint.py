"""A push service served by the test on loopback, and a browser's side of a subscription.

`PushEndpoint` answers what the test sets per path (201, a redirect, a huge body, no answer
at all, 5xx, 410) and records every request, so a test can decrypt what the agent sent
(RFC 8291, with the subscription's own private key and auth secret, as the browser would)
and verify its VAPID token (RFC 8292) with the agent's public key.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import http_ece
import uvicorn
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Browser:
    """What a browser keeps for one subscription: its P-256 key pair and auth secret."""

    private_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    auth: bytes = field(default_factory=lambda: os.urandom(16))

    @property
    def p256dh(self) -> str:
        point = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return b64url(point)

    def subscription(self, endpoint: str) -> dict[str, Any]:
        return {
            "endpoint": endpoint,
            "expirationTime": None,
            "keys": {"p256dh": self.p256dh, "auth": b64url(self.auth)},
        }

    def decrypt(self, body: bytes) -> dict[str, Any]:
        clear = http_ece.decrypt(
            body, private_key=self.private_key, auth_secret=self.auth, version="aes128gcm"
        )
        return dict(json.loads(clear))


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


def verify_vapid(authorization: str, public_key: str) -> dict[str, Any]:
    """Check `vapid t=JWT,k=KEY` (RFC 8292): k is the agent's key and the JWT's ES256
    signature verifies with it. Returns the claims."""
    scheme, _, rest = authorization.partition(" ")
    assert scheme == "vapid", authorization
    parts = dict(item.strip().split("=", 1) for item in rest.split(","))
    assert parts["k"] == public_key
    header_b64, claims_b64, signature_b64 = parts["t"].split(".")
    header = json.loads(unb64url(header_b64))
    assert header == {"typ": "JWT", "alg": "ES256"}
    signature = unb64url(signature_b64)
    assert len(signature) == 64  # JOSE: r || s, not DER
    der = encode_dss_signature(
        int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    )
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(public_key))
    key.verify(der, f"{header_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256()))  # raises
    return dict(json.loads(unb64url(claims_b64)))


class PushEndpoint:
    """Per path, a mode: "ok" (201), "redirect" (307 to /elsewhere), "huge" (an endless
    body), "hang" (never answers), "error" (503), "gone" (410)."""

    def __init__(self, tls: tuple[str, str] | None = None) -> None:
        self.tls = tls  # (certificate, key) files: serve https instead of http
        self.port = free_port()
        self.modes: dict[str, str] = {}
        self.received: list[Received] = []
        self.elsewhere_hits = 0
        self.huge_bytes_sent = 0
        self.arrived = asyncio.Condition()
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def origin(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def url(self, name: str, mode: str = "ok") -> str:
        self.modes[name] = mode
        return f"{self.origin}/push/{name}"

    async def start(self) -> None:
        app = Starlette(
            routes=[
                Route("/push/{name}", self._push, methods=["POST"]),
                Route("/elsewhere", self._elsewhere, methods=["GET", "POST"]),
            ]
        )
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off",
            timeout_graceful_shutdown=1,
            ssl_certfile=self.tls[0] if self.tls else None,
            ssl_keyfile=self.tls[1] if self.tls else None,
        )  # fmt: skip
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:  # noqa: ASYNC110 - uvicorn offers only this flag
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            self._server.force_exit = True
            await self._task
            self._server = self._task = None

    async def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        async with self.arrived:
            await asyncio.wait_for(
                self.arrived.wait_for(lambda: len(self.received) >= count), timeout
            )
        return list(self.received)

    async def _push(self, request: Request) -> Response:
        name = request.path_params["name"]
        body = await request.body()
        async with self.arrived:
            self.received.append(
                Received(request.url.path, dict(request.headers), body, time.monotonic())
            )
            self.arrived.notify_all()
        mode = self.modes.get(name, "ok")
        if mode == "redirect":
            return Response(status_code=307, headers={"Location": f"{self.origin}/elsewhere"})
        if mode == "huge":
            return StreamingResponse(self._endless(), status_code=201)
        if mode == "hang":
            await asyncio.sleep(3600)
        if mode == "error":
            return Response(status_code=503)
        if mode == "gone":
            return Response(status_code=410)
        return Response(status_code=201, headers={"Location": f"{self.origin}/m/1"})

    async def _elsewhere(self, request: Request) -> Response:
        self.elsewhere_hits += 1
        return Response(status_code=201)

    async def _endless(self) -> AsyncIterator[bytes]:
        chunk = b"x" * 65536
        while True:
            self.huge_bytes_sent += len(chunk)
            yield chunk
            await asyncio.sleep(0)
