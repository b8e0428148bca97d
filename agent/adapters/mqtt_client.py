"""The one MQTT client setup of the device adapters (ESP32 BLE scanners, footfall door nodes).

Both listen on the in-store broker named by a `[[devices]]` entry's `url` (contract §2), so
they share one way of turning that URL into a client: port from the scheme, TLS for
`mqtts://` (verified against the entry's `ca_file` or the system's CAs, with its client
certificate if it has one), its username and password file, a bounded connect, and
TCP_NODELAY (an advertisement or a door count is a small packet that should not wait for
Nagle's algorithm). Reconnection is not here: the sources
supervisor (agent.services.sources) re-enters the adapter after a failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Generic, Self, TypeVar, cast
from urllib.parse import urlsplit

import aiomqtt

from agent.aio import TCP_NODELAY
from agent.config.model import NO_CREDENTIALS, BrokerCredentials

CONNECT_TIMEOUT_S = 10.0


def device_broker_client(
    url: str,
    credentials: BrokerCredentials = NO_CREDENTIALS,
    *,
    client_id: str | None = None,
    timeout_s: float = CONNECT_TIMEOUT_S,
    inbox: Inbox | None = None,
) -> aiomqtt.Client:
    """A client (not yet connected) for the broker at ``url`` (mqtt:// or mqtts://), whose
    incoming messages go to ``inbox`` when given (aiomqtt's unbounded queue otherwise)."""
    host, port, tls = broker_address(url)
    password = None
    if credentials.password_file is not None:
        password = read_secret(credentials.password_file)
    # aiomqtt builds its incoming queue itself, from the class it is given, calling it with
    # `maxsize` only: handing it a callable that returns our inbox is how the inbox gets in.
    queue_type = (
        None if inbox is None else cast("type[asyncio.Queue[aiomqtt.Message]]", inbox.itself)
    )
    return aiomqtt.Client(
        host,
        port,
        identifier=client_id,
        username=credentials.username,
        password=password,
        tls_context=tls_context(credentials) if tls else None,
        timeout=timeout_s,
        socket_options=TCP_NODELAY,
        queue_type=queue_type,
    )


def broker_address(url: str) -> tuple[str, int, bool]:
    """(host, port, TLS?) of a device broker URL: the port from the scheme unless given."""
    parts = urlsplit(url)
    tls = parts.scheme == "mqtts"
    return parts.hostname or "127.0.0.1", parts.port or (8883 if tls else 1883), tls


def read_secret(path: Path) -> str:
    # Read at each connection so a rotated password file takes effect; never logged.
    return path.read_text(encoding="utf-8").strip()


def tls_context(credentials: BrokerCredentials) -> ssl.SSLContext:
    """Verify the broker against ``ca_file`` (else the system's CAs); present the client
    certificate when there is one."""
    cafile = str(credentials.ca_file) if credentials.ca_file else None
    context = ssl.create_default_context(cafile=cafile)
    if credentials.client_cert and credentials.client_key:
        context.load_cert_chain(str(credentials.client_cert), str(credentials.client_key))
    return context


class Inbox(asyncio.Queue[aiomqtt.Message]):
    """The client's incoming messages, bounded: one that does not fit is counted through
    ``on_full`` and dropped (aiomqtt would log a warning for each, flooding the journal
    exactly when the agent is already behind)."""

    def __init__(self, maxsize: int, on_full: Callable[[], None]) -> None:
        super().__init__(maxsize)
        self._on_full = on_full

    def itself(self, maxsize: int = 0) -> Inbox:
        return self

    def put_nowait(self, item: aiomqtt.Message) -> None:
        if self.full():
            self._on_full()
            return
        super().put_nowait(item)


class DeviceSubscription:
    """An async context manager: connected to the broker and subscribed to ``topics``
    (topic filter -> QoS) while entered; ``messages()`` yields what arrives."""

    def __init__(
        self,
        url: str,
        topics: Mapping[str, int],
        *,
        credentials: BrokerCredentials = NO_CREDENTIALS,
        client_id: str | None = None,
        max_queued: int = 0,
        on_queue_full: Callable[[], None] | None = None,
    ) -> None:
        self._url = url
        self._credentials = credentials
        self._topics = dict(topics)
        self._client_id = client_id
        self._max_queued = max_queued
        self._on_queue_full = on_queue_full or (lambda: None)
        self._client: aiomqtt.Client | None = None

    async def __aenter__(self) -> Self:
        # A fresh client per entry: the supervisor re-enters after a broken connection.
        inbox = Inbox(self._max_queued, self._on_queue_full)
        client = device_broker_client(
            self._url, self._credentials, client_id=self._client_id, inbox=inbox
        )
        await client.__aenter__()
        try:
            for topic, qos in self._topics.items():
                await client.subscribe(topic, qos=qos)
        except BaseException:
            # `async with` does not call __aexit__ when __aenter__ raises: disconnect here.
            await client.__aexit__(None, None, None)
            raise
        self._client = client
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.__aexit__(exc_type, exc, tb)

    async def messages(self) -> AsyncIterator[aiomqtt.Message]:
        if self._client is None:
            raise RuntimeError("enter the subscription before reading its messages")
        async for message in self._client.messages:
            yield message


_Subscription = TypeVar("_Subscription", bound=contextlib.AbstractAsyncContextManager[object])


class OverDeviceSubscription(Generic[_Subscription]):
    """A device source that reads one broker subscription (`self._broker`: a
    `DeviceSubscription`, or the BLE scanners' `QoS0Subscription`): entering and leaving the
    source connects and disconnects it."""

    _broker: _Subscription

    async def __aenter__(self) -> Self:
        await self._broker.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._broker.__aexit__(exc_type, exc, tb)
