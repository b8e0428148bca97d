"""Web Push out over HTTP: RFC 8291 `aes128gcm` encryption (http_ece), a VAPID (RFC 8292)
token (py_vapid), and the request itself with httpx, so that what an SSRF would abuse is
ours to bound: only allow-listed endpoints (checked again here, at the moment of use), no
redirect followed, no proxy from the environment, a deadline for the whole attempt, and at
most `max_response_bytes` of the answer read.

pywebpush would do the same in one call, but sends with `requests`/`aiohttp` on its own
terms (it follows no redirects, but neither bounds the answer nor the total time), so only its
two building blocks are used.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any
from urllib.parse import urlsplit

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
)

_LOGGER = logging.getLogger(__name__)
# RFC 8292 §2: `exp` at most 24 hours ahead. A token is reused for an hour per push
# service (signing is cheap, but 500 pushes in a burst need not sign 500 times).
TOKEN_LIFETIME_S = 12 * 3600
TOKEN_REUSE_S = 3600
MAX_RESPONSE_BYTES = 4096


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
        self._client = httpx.AsyncClient(
            follow_redirects=False,
            trust_env=False,  # no proxy or .netrc from the environment
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
                return await self._post(endpoint, body, headers)
        except TimeoutError:
            return PushResult("retry", "timeout")
        except httpx.TimeoutException:
            return PushResult("retry", "timeout")
        except httpx.HTTPError as exc:
            _LOGGER.info("push service unreachable: %s", type(exc).__name__)
            return PushResult("retry", "unreachable")

    async def _post(self, endpoint: str, body: bytes, headers: dict[str, str]) -> PushResult:
        async with self._client.stream("POST", endpoint, content=body, headers=headers) as answer:
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
