"""Web Push rules that need no I/O: which endpoints the agent may post to (the endpoint comes
from a phone, so it is an SSRF vector: contract 8.6), and what a well-formed subscription is.

The allow-list holds the major browsers' push services by default, `https` only. An entry
written `http://HOST:PORT` allows plain HTTP to exactly that host and port (for tests); an
entry starting with `*.` allows every subdomain of the rest (Microsoft's push service hands
out per-region hosts under `notify.windows.com`).
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec

DEFAULT_ENDPOINT_HOSTS = (
    "fcm.googleapis.com",  # Chrome, Edge on Android, most Chromium browsers
    "updates.push.services.mozilla.com",  # Firefox
    "web.push.apple.com",  # Safari (macOS, iOS 16.4+ home-screen apps)
    "*.notify.windows.com",  # Edge on Windows (WNS)
)
MAX_ENDPOINT_CHARS = 2048
P256_POINT_BYTES = 65  # uncompressed: 0x04 || X || Y
AUTH_SECRET_BYTES = 16

PushKind = Literal["approaching", "called", "recalled"]


@dataclass(frozen=True, slots=True)
class HostRule:
    """One allow-list entry: a host (or `*.suffix`) over https, or one http host and port."""

    host: str
    scheme: str = "https"
    port: int | None = None  # None: the scheme's default port only
    wildcard: bool = False

    def matches(self, scheme: str, host: str, port: int | None) -> bool:
        if scheme != self.scheme:
            return False
        if self.scheme == "http":
            return host == self.host and port == self.port
        if port not in (None, 443):
            return False
        if self.wildcard:
            return host.endswith("." + self.host)
        return host == self.host


def parse_host_rule(entry: str) -> HostRule:
    """`fcm.googleapis.com`, `*.notify.windows.com` or `http://127.0.0.1:8099`; ValueError
    says what is wrong with anything else."""
    text = entry.strip().lower()
    if text.startswith("http://"):
        parts = urlsplit(text)
        try:
            port = parts.port
        except ValueError:
            port = None
        if not parts.hostname or port is None or parts.path not in ("", "/") or parts.username:
            raise ValueError(f"{entry!r}: an http entry must be exactly http://HOST:PORT")
        return HostRule(parts.hostname, scheme="http", port=port)
    if "/" in text or ":" in text or not text:
        raise ValueError(
            f"{entry!r}: must be a host name (https only), *.domain, or http://HOST:PORT"
        )
    if text.startswith("*."):
        rest = text[2:]
        if "*" in rest or "." not in rest:
            raise ValueError(f"{entry!r}: a wildcard must be *.domain.tld")
        return HostRule(rest, wildcard=True)
    if "*" in text:
        raise ValueError(f"{entry!r}: '*' is allowed only as a leading '*.'")
    return HostRule(text)


@dataclass(frozen=True, slots=True)
class EndpointPolicy:
    rules: tuple[HostRule, ...]

    @classmethod
    def of(cls, entries: tuple[str, ...]) -> EndpointPolicy:
        return cls(tuple(parse_host_rule(entry) for entry in entries))

    def allows(self, endpoint: str) -> bool:
        if len(endpoint) > MAX_ENDPOINT_CHARS:
            return False
        try:
            parts = urlsplit(endpoint)
            port = parts.port
        except ValueError:
            return False
        host = parts.hostname
        # Credentials in the URL or a fragment have no business in a push endpoint.
        if not host or parts.username is not None or parts.password is not None:
            return False
        if parts.fragment or any(c.isspace() for c in endpoint):
            return False
        return any(rule.matches(parts.scheme, host, port) for rule in self.rules)

    def needs_public_address(self, endpoint: str) -> bool:
        """Whether the addresses an endpoint's host resolves to must be public ones. True for
        every https entry: a listed push service never lives in the store's own network, so a
        name that resolves there (a poisoned resolver, a DNS rebinding) is refused. The
        explicit `http://HOST:PORT` entries are exempt: they name their host on purpose."""
        return urlsplit(endpoint).scheme == "https"


def is_public_address(address: str) -> bool:
    """An address on the public internet: not loopback, private, link-local, shared (CGNAT),
    multicast or reserved. An IPv4-mapped IPv6 address is judged as the IPv4 address."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


@dataclass(frozen=True, slots=True)
class Subscription:
    """A browser's PushSubscription, checked: the endpoint, the phone's P-256 public key
    (65 bytes, uncompressed) and its 16-byte auth secret."""

    endpoint: str
    p256dh: bytes
    auth: bytes


class SubscriptionRefused(Exception):
    """``code`` is `push_endpoint_not_allowed` or `push_keys_invalid`."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def b64url_decode(text: str) -> bytes:
    """Base64url with or without padding (browsers send it without)."""
    if any(c not in _B64URL for c in text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


_B64URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=")


def check_subscription(
    policy: EndpointPolicy, endpoint: str, p256dh: str, auth: str
) -> Subscription:
    """The subscription, or SubscriptionRefused (the key must be a point on P-256: a bad one
    would make every later encryption fail)."""
    if not policy.allows(endpoint):
        raise SubscriptionRefused("push_endpoint_not_allowed")
    try:
        key, secret = b64url_decode(p256dh), b64url_decode(auth)
    except (ValueError, binascii.Error):
        raise SubscriptionRefused("push_keys_invalid") from None
    if len(key) != P256_POINT_BYTES or key[0] != 0x04 or len(secret) != AUTH_SECRET_BYTES:
        raise SubscriptionRefused("push_keys_invalid")
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), key)
    except ValueError:
        raise SubscriptionRefused("push_keys_invalid") from None
    return Subscription(endpoint, key, secret)


@dataclass(frozen=True, slots=True)
class PushMessage:
    """One Web Push to send: the payload in clear (the sender encrypts it for the
    subscription, RFC 8291), how long the push service may keep it, and its urgency."""

    subscription: Subscription
    payload: bytes
    ttl_s: int
    urgency: Literal["very-low", "low", "normal", "high"]


# What became of one attempt. `reason` is the metric label; `retry` says whether trying
# again later may help (the service was unreachable, slow, overloaded or rate-limiting).
PushOutcome = Literal["sent", "gone", "retry", "refused"]


@dataclass(frozen=True, slots=True)
class PushResult:
    outcome: PushOutcome
    reason: str
    status: int | None = None


def classify_status(status: int) -> PushResult:
    """RFC 8030 answers: 201 (or any 2xx) accepted; 404/410 the subscription is gone; 429
    and 5xx may pass; 3xx is a redirect, never followed (SSRF); other 4xx are refusals."""
    if 200 <= status < 300:
        return PushResult("sent", "sent", status)
    if status in (404, 410):
        return PushResult("gone", "gone", status)
    if status == 429:
        return PushResult("retry", "rate_limited", status)
    if status >= 500:
        return PushResult("retry", "server_error", status)
    if 300 <= status < 400:
        return PushResult("refused", "redirect", status)
    return PushResult("refused", "rejected", status)
