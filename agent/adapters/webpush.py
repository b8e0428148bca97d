"""Web Push out over HTTP: RFC 8291 `aes128gcm` encryption (http_ece), a VAPID (RFC 8292)
token (py_vapid), and the request itself with httpx, so that what an SSRF would abuse is
ours to bound: only allow-listed endpoints (checked again here, at the moment of use), no
redirect followed, no proxy from the environment, a deadline for the whole attempt, and at
most `max_response_bytes` of the answer read.

An allow-listed https host must also resolve to public addresses only, and the request then
goes to the address that was checked (the URL carries the address; TLS's SNI and certificate
check and the `Host` header carry the name), so a resolver that answers differently the second
time cannot steer the post into the store's network. With `[push] proxy` set, the proxy
resolves names and is the boundary instead: the agent cannot see where it connects.

pywebpush would do the same in one call, but sends with `requests`/`aiohttp` on its own
terms (it follows no redirects, but neither bounds the answer nor the total time), so only its
two building blocks are used.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import ssl
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import http_ece
import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02

from agent.core.ports import Clock
from agent.core.push import (
    EndpointPolicy,
    PushMessage,
    PushResult,
    b64url_encode,
    classify_status,
    is_public_address,
)

_LOGGER = logging.getLogger(__name__)
# RFC 8292 §2: `exp` at most 24 hours ahead. A token is reused for an hour per push
# service (signing is cheap, but 500 pushes in a burst need not sign 500 times).
TOKEN_LIFETIME_S = 12 * 3600
TOKEN_REUSE_S = 3600
MAX_RESPONSE_BYTES = 4096

# (host, port) -> the (address, port) pairs to try. The system resolver unless a test
# substitutes one.
Resolver = Callable[[str, int], Awaitable[list[tuple[str, int]]]]


async def system_resolver(host: str, port: int) -> list[tuple[str, int]]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [(str(info[4][0]), int(info[4][1])) for info in infos]


class WebPushSender:
    """The `PushSender` port over HTTP. Holds the VAPID private key: never in a repr or a
    log line."""

    def __init__(
        self,
        private_key: bytes,
        subject: str,
        policy: EndpointPolicy,
        clock: Clock,
        *,
        timeout_s: float = 5.0,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        proxy: str | None = None,
        resolver: Resolver = system_resolver,
        address_allowed: Callable[[str], bool] = is_public_address,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        key = ec.derive_private_key(int.from_bytes(private_key, "big"), ec.SECP256R1())
        self._vapid: Any = Vapid02(key)
        self._public = key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        self._subject = subject
        self._policy = policy
        self._clock = clock
        self._timeout_s = timeout_s
        self._max_response = max_response_bytes
        self._tokens: dict[str, tuple[float, str]] = {}  # audience -> (reuse until, header)
        self._proxy = proxy
        self._resolve = resolver
        self._address_allowed = address_allowed
        self._client = httpx.AsyncClient(
            follow_redirects=False,
            trust_env=False,  # no proxy or .netrc from the environment: only `[push] proxy`
            proxy=proxy,
            verify=verify,
            timeout=httpx.Timeout(timeout_s),
            limits=httpx.Limits(max_connections=16, max_keepalive_connections=8),
        )

    def __repr__(self) -> str:
        return f"WebPushSender(public_key={self.public_key!r})"

    @property
    def public_key(self) -> str:
        return b64url_encode(self._public)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def send(self, message: PushMessage) -> PushResult:
        endpoint = message.subscription.endpoint
        if not self._policy.allows(endpoint):  # the config may have changed since
            return PushResult("refused", "not_allowed")
        headers = {
            "Authorization": self._authorization(endpoint),
            "TTL": str(message.ttl_s),
            "Urgency": message.urgency,
            "Content-Encoding": "aes128gcm",
            "Content-Type": "application/octet-stream",
        }
        body = _encrypt(message)
        try:
            async with asyncio.timeout(self._timeout_s):
                target = await self._target(endpoint, headers)
                if isinstance(target, PushResult):
                    return target
                url, extensions = target
                return await self._post(url, body, headers, extensions)
        except TimeoutError:
            return PushResult("retry", "timeout")
        except httpx.TimeoutException:
            return PushResult("retry", "timeout")
        except httpx.HTTPError as exc:
            _LOGGER.info("push service unreachable: %s", type(exc).__name__)
            return PushResult("retry", "unreachable")

    async def _target(
        self, endpoint: str, headers: dict[str, str]
    ) -> tuple[str, dict[str, Any]] | PushResult:
        """Where to send: the endpoint itself, or (an https endpoint, no proxy) the endpoint at
        the public address its host resolved to, with the name in SNI and `Host`."""
        if self._proxy is not None or not self._policy.needs_public_address(endpoint):
            return endpoint, {}
        parts = urlsplit(endpoint)
        host = parts.hostname or ""
        try:
            addresses = await self._resolve(host, parts.port or 443)
        except OSError:
            return PushResult("retry", "dns")
        if not addresses:
            return PushResult("retry", "dns")
        if not all(self._address_allowed(address) for address, _ in addresses):
            # Every answer must be public: picking the public one of a mixed answer would let
            # a rebinding resolver win on the next lookup by the push service's keep-alive.
            _LOGGER.warning("push endpoint host %s resolves to a non-public address", host)
            return PushResult("refused", "private_address")
        address, port = addresses[0]
        netloc = f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
        headers["Host"] = parts.netloc
        pinned = urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
        return pinned, {"sni_hostname": host}

    async def _post(
        self, url: str, body: bytes, headers: dict[str, str], extensions: dict[str, Any]
    ) -> PushResult:
        async with self._client.stream(
            "POST", url, content=body, headers=headers, extensions=extensions
        ) as answer:
            read = 0
            async for chunk in answer.aiter_raw():
                read += len(chunk)
                if read > self._max_response:
                    # A push service answers in a few bytes; more is not one we trust.
                    return PushResult("refused", "response_too_large", answer.status_code)
            return classify_status(answer.status_code)

    def _authorization(self, endpoint: str) -> str:
        parts = urlsplit(endpoint)
        audience = f"{parts.scheme}://{parts.netloc}"
        now = self._clock.now().timestamp()
        cached = self._tokens.get(audience)
        if cached is not None and cached[0] > now:
            return cached[1]
        claims = {"aud": audience, "exp": int(now) + TOKEN_LIFETIME_S, "sub": self._subject}
        header = str(self._vapid.sign(claims)["Authorization"])
        self._tokens[audience] = (now + TOKEN_REUSE_S, header)
        return header


def _encrypt(message: PushMessage) -> bytes:
    """RFC 8291: a fresh sender key pair and salt for every message."""
    ephemeral = ec.generate_private_key(ec.SECP256R1())
    encrypted: bytes = http_ece.encrypt(
        message.payload,
        salt=os.urandom(16),
        private_key=ephemeral,
        dh=message.subscription.p256dh,
        auth_secret=message.subscription.auth,
        version="aes128gcm",
    )
    return encrypted
