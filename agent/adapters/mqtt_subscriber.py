"""A minimal MQTT 3.1.1 subscriber for one busy QoS 0 subscription: the BLE scanners'.

Why not aiomqtt here, as everywhere else in the agent: under the scanners' load (one message
per advertisement, thousands a second) paho's own Python work per message (packet parsing,
its topic matcher run for callbacks nobody registered, an `MQTTMessage` with a
`threading.Condition` each) was ~12 us, and aiomqtt's `Message` and queue ~2 us more: more
than everything the agent does with the advertisement (benchmarks/PROFILE.md). One QoS 0
subscription needs little of a client: CONNECT (username/password, TLS), one SUBSCRIBE,
PINGREQ for keep-alive, DISCONNECT. What the broker sends is parsed straight out of each
chunk asyncio reads from the socket (up to 256 KiB) into ``(topic, payload)`` pairs.

What arrives waits in one bounded list: a message that does not fit is dropped and counted
(``dropped``), as is anything the broker sends that is not a well-formed packet this
subscriber expects (``malformed``). A packet whose length cannot be read leaves no way to
find the next one: the connection is closed instead (an error, so the sources supervisor
reconnects with backoff, as it does after any failure; reconnection is not here).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Self, cast

from agent.adapters.mqtt_client import CONNECT_TIMEOUT_S, broker_address, read_secret, tls_context
from agent.config.model import NO_CREDENTIALS, BrokerCredentials

KEEPALIVE_S = 60
# Larger than any BTtoMQTT message (4 KiB at most: agent.core.bttomqtt); a bigger packet is
# skipped as it streams by, never buffered whole.
MAX_PACKET_BYTES = 65536
PUBLISH, CONNACK, SUBACK, PINGRESP = 0x30, 0x20, 0x90, 0xD0
PINGREQ = b"\xc0\x00"
DISCONNECT = b"\xe0\x00"
SUBSCRIBE_ID = 1
CONNACK_REFUSALS = {
    1: "unacceptable protocol version",
    2: "client identifier rejected",
    3: "server unavailable",
    4: "bad user name or password",
    5: "not authorised",
}

_INCOMPLETE, _BROKEN = -1, -2  # in place of a packet length
_LOST = -1  # in place of a CONNACK code

Message = tuple[bytes, bytes]  # (topic, payload), both as the broker sent them


class MqttSubscriberError(ConnectionError):
    """Refused, unreachable, broken or lost: the supervisor reconnects."""


class _Wire(asyncio.Protocol):
    """The connection: parses what arrives, queues PUBLISH payloads, answers the handshake."""

    def __init__(self, max_queued: int) -> None:
        self.pending: list[Message] = []
        self.dropped = 0  # did not fit in `pending`
        self.malformed = 0
        self.lost: MqttSubscriberError | None = None
        self.ping_unanswered = False
        self.transport: asyncio.Transport | None = None
        loop = asyncio.get_running_loop()
        self.connack: asyncio.Future[int] = loop.create_future()
        self.suback: asyncio.Future[bytes] = loop.create_future()
        self._max_queued = max_queued
        self._rest = b""  # the start of a packet the last chunk ended inside
        self._skip = 0  # bytes still to come of an oversized packet being skipped
        self._waiter: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast("asyncio.Transport", transport)

    def data_received(self, data: bytes) -> None:
        data = self._skipped(data) if self._skip else data
        buffer = self._rest + data if self._rest else data
        end = len(buffer)
        position = 0
        pending = self.pending
        room = self._max_queued - len(pending)
        # The loop is written out, with locals, because it runs once per advertisement.
        while end - position >= 2:
            header = buffer[position]
            length = buffer[position + 1]
            start = position + 2
            if length > 127 and start < end and buffer[start] < 128:
                # Two bytes of length (128 B-16 KiB): most advertisements, so inline.
                length = (length & 0x7F) | buffer[start] << 7
                start += 1
            elif length > 127:
                length, start = _remaining_length(buffer, position + 1, end)
                if length == _INCOMPLETE:
                    break  # the chunk ends inside the length
                if length == _BROKEN or length > MAX_PACKET_BYTES:
                    position = self._unreadable(length, start, end)
                    continue
            stop = start + length
            if stop > end:
                break  # the rest of this packet comes with the next chunk
            if header & 0xF6 == PUBLISH and length > 1:  # QoS 0, any DUP and RETAIN flags
                topic_end = start + 2 + (buffer[start] << 8 | buffer[start + 1])
                if topic_end > stop:
                    self.malformed += 1
                elif room > 0:
                    pending.append((buffer[start + 2 : topic_end], buffer[topic_end:stop]))
                    room -= 1
                else:
                    self.dropped += 1
            else:
                self._control(header, buffer[start:stop])
            position = stop
        self._rest = buffer[position:] if position < end else b""
        if pending or self.malformed or self.dropped:
            self._wake()

    def _skipped(self, data: bytes) -> bytes:
        """What follows the rest of an oversized packet in ``data``."""
        skipped = min(self._skip, len(data))
        self._skip -= skipped
        return data[skipped:]

    def _unreadable(self, length: int, start: int, end: int) -> int:
        """Where to go on after a packet too long to keep (skipped, counted) or whose length
        is not an MQTT length (the end: nothing after it can be found)."""
        if length == _BROKEN:
            self.fail("a packet length that is not an MQTT length")
            return end
        self.malformed += 1
        self._skip = max(0, start + length - end)
        return min(end, start + length)

    def _control(self, header: int, body: bytes) -> None:
        if header == CONNACK and len(body) == 2 and not self.connack.done():
            self.connack.set_result(body[1])
        elif header == SUBACK and len(body) >= 3 and not self.suback.done():
            self.suback.set_result(body[2:])
        elif header == PINGRESP and not body:
            self.ping_unanswered = False
        else:
            # A QoS 1/2 PUBLISH (never granted), a packet a broker does not send a
            # subscriber, or one of the above malformed.
            self.malformed += 1

    def eof_received(self) -> bool | None:
        return None  # the transport closes itself; connection_lost says the rest

    def connection_lost(self, exc: Exception | None) -> None:
        if self.lost is None:
            reason = f"connection to the broker lost: {exc}" if exc else "the broker closed"
            self.lost = MqttSubscriberError(reason)
        # Results, not exceptions: a handshake that already gave up awaits neither future,
        # and an exception nobody retrieves is logged as an error.
        if not self.connack.done():
            self.connack.set_result(_LOST)
        if not self.suback.done():
            self.suback.set_result(b"")
        self._wake()

    def fail(self, reason: str) -> None:
        self.lost = MqttSubscriberError(reason)
        if self.transport is not None:
            self.transport.abort()  # connection_lost follows, and wakes the reader

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def arrival(self) -> None:
        """Until something is pending, or the connection is lost."""
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    def take_counts(self) -> tuple[int, int]:
        """(dropped, malformed) since the last call."""
        counts = self.dropped, self.malformed
        self.dropped = self.malformed = 0
        return counts


def _remaining_length(buffer: bytes, at: int, end: int) -> tuple[int, int]:
    """(length, where the packet's body starts) of the variable-length integer at ``at``;
    length _INCOMPLETE if the buffer ends inside it, _BROKEN if it is longer than 4 bytes."""
    length = 0
    for index in range(at, min(at + 4, end)):
        byte = buffer[index]
        length |= (byte & 0x7F) << (7 * (index - at))
        if byte < 0x80:
            return length, index + 1
    return (_BROKEN if end - at >= 4 else _INCOMPLETE), at


class QoS0Subscription:
    """An async context manager: connected to the broker at ``url`` (mqtt:// or mqtts://)
    and subscribed to ``topic`` at QoS 0 while entered; `batches()` yields what arrives."""

    def __init__(
        self,
        url: str,
        topic: str,
        *,
        credentials: BrokerCredentials = NO_CREDENTIALS,
        client_id: str | None = None,
        max_queued: int,
        keepalive_s: int = KEEPALIVE_S,
        timeout_s: float = CONNECT_TIMEOUT_S,
    ) -> None:
        self._url = url
        self._topic = topic
        self._credentials = credentials
        # A fixed, random one when not given: some brokers refuse an empty identifier.
        self._client_id = client_id or f"retail-edge-ble-{secrets.token_hex(4)}"
        self._max_queued = max_queued
        self._keepalive_s = keepalive_s
        self._timeout_s = timeout_s
        self._wire: _Wire | None = None
        self._pinger: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        host, port, tls = broker_address(self._url)
        loop = asyncio.get_running_loop()
        wire = _Wire(self._max_queued)
        try:
            async with asyncio.timeout(self._timeout_s):
                await loop.create_connection(
                    lambda: wire,
                    host,
                    port,
                    ssl=tls_context(self._credentials) if tls else None,
                    server_hostname=host if tls else None,
                )
                await self._handshake(wire)
        except BaseException as exc:
            # `async with` does not call __aexit__ when __aenter__ raises: close here.
            if wire.transport is not None:
                wire.transport.abort()
            if isinstance(exc, TimeoutError | OSError) and not isinstance(exc, MqttSubscriberError):
                raise MqttSubscriberError(f"cannot connect to {host}:{port}: {exc!r}") from exc
            raise
        self._wire = wire
        self._pinger = loop.create_task(self._keep_alive(wire))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        wire, self._wire = self._wire, None
        if self._pinger is not None:
            self._pinger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pinger
            self._pinger = None
        if wire is not None and wire.transport is not None and not wire.transport.is_closing():
            wire.transport.write(DISCONNECT)
            wire.transport.close()

    async def batches(self, max_batch: int) -> AsyncIterator[list[Message]]:
        """What has arrived, up to ``max_batch`` messages at a time; raises
        MqttSubscriberError once what arrived before the connection was lost is handed over."""
        wire = self._wire
        if wire is None:
            raise RuntimeError("enter the subscription before reading its messages")
        while True:
            pending = wire.pending
            if not pending:
                if wire.lost is not None:
                    raise wire.lost
                await wire.arrival()
                if not wire.pending and (wire.dropped or wire.malformed):
                    yield []  # nothing to hand over, but something to count
                continue
            if len(pending) <= max_batch:
                wire.pending = []
                yield pending
            else:
                batch = pending[:max_batch]
                del pending[:max_batch]
                yield batch
            if wire.pending:
                # More is waiting: let the loop's other tasks (pages, streams) run between
                # batches rather than after the whole backlog.
                await asyncio.sleep(0)

    def take_counts(self) -> tuple[int, int]:
        """(dropped because the queue was full, malformed packets) since the last call."""
        return (0, 0) if self._wire is None else self._wire.take_counts()

    async def _keep_alive(self, wire: _Wire) -> None:
        # Twice per keep-alive period (the broker closes after 1.5 periods without a
        # packet); a PINGREQ still unanswered half a period later means a dead connection
        # (a broker frozen or a network gone without a FIN), which reading alone never shows.
        while wire.transport is not None and not wire.transport.is_closing():
            await asyncio.sleep(self._keepalive_s / 2)
            if wire.ping_unanswered:
                wire.fail(f"no PINGRESP within {self._keepalive_s / 2:.0f} s")
                return
            wire.ping_unanswered = True
            wire.transport.write(PINGREQ)

    async def _handshake(self, wire: _Wire) -> None:
        transport = cast("asyncio.Transport", wire.transport)
        transport.write(self._connect_packet())
        code = await wire.connack
        if code == _LOST:
            raise wire.lost or MqttSubscriberError("the broker closed")
        if code != 0:
            refusal = CONNACK_REFUSALS.get(code, f"code {code}")
            raise MqttSubscriberError(f"the broker refused the connection: {refusal}")
        transport.write(_subscribe_packet(self._topic))
        granted = await wire.suback
        if not granted:
            raise wire.lost or MqttSubscriberError("the broker closed")
        if granted != b"\x00":
            raise MqttSubscriberError(f"the broker refused the subscription {self._topic}")

    def _connect_packet(self) -> bytes:
        credentials = self._credentials
        flags = 0x02  # clean session: nothing of an earlier connection is wanted
        payload = _string(self._client_id.encode())
        if credentials.username is not None:
            flags |= 0x80
            payload += _string(credentials.username.encode())
            if credentials.password_file is not None:
                flags |= 0x40
                # Read at each connection so a rotated password file takes effect.
                payload += _string(read_secret(credentials.password_file).encode())
        header = _string(b"MQTT") + bytes([4, flags]) + self._keepalive_s.to_bytes(2, "big")
        return _packet(0x10, header + payload)


def _subscribe_packet(topic: str) -> bytes:
    return _packet(0x82, SUBSCRIBE_ID.to_bytes(2, "big") + _string(topic.encode()) + b"\x00")


def _string(data: bytes) -> bytes:
    return len(data).to_bytes(2, "big") + data


def _packet(header: int, body: bytes) -> bytes:
    length = len(body)
    encoded = bytearray()
    while True:
        byte, length = length & 0x7F, length >> 7
        encoded.append(byte | (0x80 if length else 0))
        if not length:
            return bytes([header]) + bytes(encoded) + body
