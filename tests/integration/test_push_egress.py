"""Where a push may go: an allow-listed https host must resolve to public addresses only, and
the post then goes to the address that was checked (so a resolver cannot answer one thing to
the check and another to the connection); a configured proxy carries every push instead.

The resolver is the one part substituted: this machine has no public address to resolve to.
Everything else is real: the sender, TLS with a certificate checked against the name, and the
push endpoint or proxy the test serves."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agent.adapters.webpush import WebPushSender
from agent.core.clock import SystemClock
from agent.core.push import EndpointPolicy, PushMessage, check_subscription, is_public_address
from tests.push_endpoint import Browser, PushEndpoint, free_port
from tests.tls import make_pki
from tests.unit.test_config import problems_of

VAPID_KEY = bytes(range(1, 33))


def message(policy: EndpointPolicy, endpoint: str, phone: Browser) -> PushMessage:
    keys = phone.subscription(endpoint)["keys"]
    subscription = check_subscription(policy, endpoint, keys["p256dh"], keys["auth"])
    return PushMessage(subscription, b'{"type": "called"}', 60, "high")


def resolving_to(*answers: tuple[str, int]):  # type: ignore[no-untyped-def]
    asked: list[tuple[str, int]] = []

    async def resolve(host: str, port: int) -> list[tuple[str, int]]:
        asked.append((host, port))
        return list(answers)

    return resolve, asked


@pytest.fixture
async def endpoint() -> AsyncIterator[PushEndpoint]:
    service = PushEndpoint()
    await service.start()
    try:
        yield service
    finally:
        await service.stop()


def test_what_counts_as_a_public_address() -> None:
    assert is_public_address("142.250.185.74")
    assert is_public_address("2a00:1450:4001:82b::200a")
    for private in ("127.0.0.1", "10.1.2.3", "192.168.1.20", "172.16.0.9", "169.254.1.1",
                    "100.64.0.1", "0.0.0.0", "224.0.0.1", "::1", "fe80::1%eth0", "fd00::5",
                    "::ffff:192.168.1.20", "not an address"):  # fmt: skip
        assert not is_public_address(private), private


async def test_a_listed_host_resolving_into_the_store_network_is_refused(endpoint) -> None:
    """The resolver points the listed push host at a live service on loopback: nothing is
    sent to it, and the refusal says why."""
    policy = EndpointPolicy.of(("push.example.com",))
    resolve, asked = resolving_to(("127.0.0.1", endpoint.port))
    sender = WebPushSender(VAPID_KEY, "mailto:a@b.example", policy, SystemClock(),
                           resolver=resolve)  # fmt: skip
    result = await sender.send(message(policy, "https://push.example.com/push/x", Browser()))
    await sender.aclose()
    assert (result.outcome, result.reason) == ("refused", "private_address")
    assert asked == [("push.example.com", 443)]
    assert endpoint.received == []


async def test_one_private_address_among_public_ones_is_refused(endpoint) -> None:
    policy = EndpointPolicy.of(("push.example.com",))
    resolve, _ = resolving_to(("142.250.185.74", 443), ("127.0.0.1", endpoint.port))
    sender = WebPushSender(VAPID_KEY, "mailto:a@b.example", policy, SystemClock(),
                           resolver=resolve)  # fmt: skip
    result = await sender.send(message(policy, "https://push.example.com/push/x", Browser()))
    await sender.aclose()
    assert (result.outcome, result.reason) == ("refused", "private_address")
    assert endpoint.received == []


async def test_the_post_goes_to_the_checked_address_with_the_name_in_tls(tmp_path: Path) -> None:
    """The request is made to the resolved address, and TLS still proves the name: the
    server's certificate is for `localhost`, the URL says `localhost`, the connection goes
    to the address the check saw."""
    pki = make_pki(tmp_path / "pki")
    service = PushEndpoint(tls=(str(pki.server_cert), str(pki.server_key)))
    await service.start()
    policy = EndpointPolicy.of(("localhost",))
    resolve, asked = resolving_to(("127.0.0.1", service.port))
    trust = ssl.create_default_context(cafile=str(pki.ca_cert))
    phone = Browser()
    sender = WebPushSender(VAPID_KEY, "mailto:a@b.example", policy, SystemClock(),
                           resolver=resolve, address_allowed=lambda _address: True,
                           verify=trust)  # fmt: skip
    try:
        result = await sender.send(message(policy, "https://localhost/push/tls", phone))
        assert (result.outcome, result.status) == ("sent", 201), result
        (received,) = await service.wait_for(1)
        assert received.path == "/push/tls"
        assert received.headers["host"] == "localhost"
        assert phone.decrypt(received.body) == {"type": "called"}
        assert asked == [("localhost", 443)]

        # The same name pinned to an address whose certificate is not for it: TLS refuses.
        untrusted = WebPushSender(VAPID_KEY, "mailto:a@b.example", policy, SystemClock(),
                                  resolver=resolve, address_allowed=lambda _address: True,
                                  verify=ssl.create_default_context(
                                      cafile=str(pki.other_ca_cert)))  # fmt: skip
        refused = await untrusted.send(message(policy, "https://localhost/push/tls", phone))
        await untrusted.aclose()
        assert refused.outcome == "retry" and len(service.received) == 1
    finally:
        await sender.aclose()
        await service.stop()


class ForwardProxy:
    """A plain-HTTP forward proxy: reads one absolute-form request, relays it to its origin
    and the answer back, and records each request line."""

    def __init__(self) -> None:
        self.port = free_port()
        self.request_lines: list[str] = []
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        line, _, rest = head.partition(b"\r\n")
        method, target, version = line.decode().split(" ")
        self.request_lines.append(f"{method} {target}")
        length = next(int(h.split(b":")[1]) for h in rest.split(b"\r\n")
                      if h.lower().startswith(b"content-length:"))  # fmt: skip
        body = await reader.readexactly(length)
        origin = target.split("/", 3)
        host, port = origin[2].split(":")
        up_reader, up_writer = await asyncio.open_connection(host, int(port))
        headers = [h for h in rest.split(b"\r\n") if h and not h.lower().startswith(b"proxy-")]
        request = f"{method} /{origin[3]} {version}\r\n".encode() + b"\r\n".join(headers)
        up_writer.write(request + b"\r\nConnection: close\r\n\r\n" + body)
        await up_writer.drain()
        writer.write(await up_reader.read())
        await writer.drain()
        up_writer.close()
        writer.close()


async def test_a_configured_proxy_carries_the_push(endpoint) -> None:
    proxy = ForwardProxy()
    await proxy.start()
    policy = EndpointPolicy.of((endpoint.origin,))
    phone = Browser()
    url = endpoint.url("via-proxy")
    sender = WebPushSender(VAPID_KEY, "mailto:a@b.example", policy, SystemClock(),
                           proxy=f"http://127.0.0.1:{proxy.port}")  # fmt: skip
    try:
        result = await sender.send(message(policy, url, phone))
        assert (result.outcome, result.status) == ("sent", 201), result
        assert proxy.request_lines == [f"POST {url}"]
        (received,) = endpoint.received
        assert phone.decrypt(received.body) == {"type": "called"}
    finally:
        await sender.aclose()
        await proxy.stop()


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ('"proxy.lan:3128"', "must be http://HOST:PORT or https://HOST:PORT"),
        ('"http://proxy.lan"', "must be http://HOST:PORT or https://HOST:PORT"),
        ('"http://proxy.lan:3128/x"', "must have no path, query or fragment"),
        ("3128", "must be a string"),
    ],
)
def test_check_config_names_a_bad_proxy(tmp_path: Path, value: str, problem: str) -> None:
    path = tmp_path / "store.toml"
    path.write_text(f'[store]\nid = "s1"\n[push]\nproxy = {value}\n')
    (line,) = [p for p in problems_of(path) if "push.proxy" in p]
    assert problem in line, line
