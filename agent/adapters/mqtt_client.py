"""The one MQTT client setup of the device adapters (ESP32 BLE scanners, footfall door nodes).

Both listen on the in-store broker named by a `[[devices]]` entry's `url` (contract §2), so
they share one way of turning that URL into a client: port from the scheme, TLS for
`mqtts://`, a bounded connect, and TCP_NODELAY (an advertisement or a door count is a small
packet that should not wait for Nagle's algorithm). Reconnection is not here: the sources
supervisor (agent.services.sources) re-enters the adapter after a failure.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from types import TracebackType
from typing import Self
from urllib.parse import urlsplit

import aiomqtt

from agent.aio import TCP_NODELAY

CONNECT_TIMEOUT_S = 10.0


def device_broker_client(url: str, *, client_id: str | None = None) -> aiomqtt.Client:
    """A client (not yet connected) for the broker at ``url`` (mqtt:// or mqtts://)."""
    parts = urlsplit(url)
    tls = parts.scheme == "mqtts"
    return aiomqtt.Client(
        parts.hostname or "127.0.0.1",
        parts.port or (8883 if tls else 1883),
        identifier=client_id,
        tls_params=aiomqtt.TLSParameters() if tls else None,
        timeout=CONNECT_TIMEOUT_S,
        socket_options=TCP_NODELAY,
    )


class DeviceSubscription:
    """An async context manager: connected to the broker and subscribed to ``topics``
    (topic filter -> QoS) while entered; ``messages()`` yields what arrives."""

    def __init__(
        self, url: str, topics: Mapping[str, int], *, client_id: str | None = None
    ) -> None:
        self._url = url
        self._topics = dict(topics)
        self._client_id = client_id
        self._client: aiomqtt.Client | None = None

    async def __aenter__(self) -> Self:
        # A fresh client per entry: the supervisor re-enters after a broken connection.
        client = device_broker_client(self._url, client_id=self._client_id)
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
