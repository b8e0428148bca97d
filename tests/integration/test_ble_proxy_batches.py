"""The mqtt-proxy BLE adapter and its own MQTT subscriber against a real mosquitto: every
message counted by outcome, handed over in batches, a bounded queue that counts what it drops,
keep-alive, reconnection by the sources supervisor after the broker is killed and restarted,
and a broker that sends garbage (a fake one: mosquitto never would)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import socket
from collections import Counter
from collections.abc import AsyncIterator, Callable

import aiomqtt
import pytest

from agent.adapters import ble_mqtt_proxy
from agent.adapters.ble_mqtt_proxy import MqttProxyScanner
from agent.adapters.mqtt_subscriber import MqttSubscriberError, QoS0Subscription
from agent.core.clock import SystemClock
from agent.core.eddystone import eid_service_data
from agent.core.readings import EidSighting
from agent.metrics import Metrics
from agent.services.sources import supervise
from simulators.mosquitto import MosquittoBroker
from tests.helpers import eventually

TOPIC = "home/door-esp32/BTtoMQTT/7A1122334455"
EID_FRAME = eid_service_data(-20, bytes(range(8))).hex()


def advertisement(**fields: object) -> bytes:
    doc = {"id": "7A:11:22:33:44:55", "rssi": -60, **fields}
    return json.dumps({k: v for k, v in doc.items() if v is not None}).encode()


EID_MESSAGE = advertisement(servicedatauuid="0xfeaa", servicedata=EID_FRAME)


async def publish_all(port: int, payloads: list[bytes], topic: str = TOPIC) -> None:
    async with aiomqtt.Client("127.0.0.1", port) as client:
        for payload in payloads:
            await client.publish(topic, payload)


def counter() -> tuple[Counter[str], Callable[[str, int], None]]:
    counts: Counter[str] = Counter()
    return counts, lambda outcome, n: counts.update({outcome: n})


async def test_every_message_is_counted_by_outcome_and_eid_frames_come_in_batches(
    broker: MosquittoBroker,
) -> None:
    counts, count = counter()
    scanner = MqttProxyScanner(broker.url, "home/+/BTtoMQTT/#", SystemClock(), count)
    messages = [EID_MESSAGE] * 300
    messages += [
        advertisement(servicedatauuid="0x181a", servicedata="00ff"),  # a thermometer
        advertisement(),  # no service data at all
        advertisement(servicedatauuid="0xfeaa", servicedata="20000bb81000"),  # Eddystone TLM
        b"{garbage",
        b"",  # an empty payload is a valid PUBLISH, not a valid advertisement
    ]
    async with scanner:
        # A small packet must not wait for Nagle's algorithm (asyncio sets this on TCP).
        assert scanner._broker._wire is not None and scanner._broker._wire.transport is not None
        sock = scanner._broker._wire.transport.get_extra_info("socket")
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        batches: list[int] = []

        async def read() -> None:
            async for batch in scanner.batches():
                batches.append(len(batch))
                assert all(s.eid == bytes(range(8)) and s.tx_power == -20 for s in batch)
                assert batch[0].reader == "proxy:door-esp32"

        reader = asyncio.create_task(read())
        await publish_all(broker.port, messages)
        await eventually(lambda: sum(counts.values()) == len(messages), message="all counted")
        reader.cancel()
    assert counts == {"eid": 300, "not_eddystone": 2, "not_eid": 1, "malformed": 2}
    assert sum(batches) == 300
    assert max(batches) > 1  # a wake-up's messages handed over together


async def test_a_full_queue_counts_what_it_drops_and_keeps_the_rest(
    broker: MosquittoBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ble_mqtt_proxy, "INBOUND_QUEUE_MAX", 50)
    counts, count = counter()
    scanner = MqttProxyScanner(broker.url, "home/+/BTtoMQTT/#", SystemClock(), count)
    async with scanner:
        # Nobody reads meanwhile: the agent is "behind". The socket is still read, so the
        # broker drops nothing; the adapter's queue does, and counts it.
        await publish_all(broker.port, [EID_MESSAGE] * 200)
        wire = scanner._broker._wire
        assert wire is not None
        await eventually(lambda: wire.dropped == 150, message="150 dropped")
        batches = scanner.batches()
        kept = await anext(batches)
        await batches.aclose()  # type: ignore[attr-defined]
    assert len(kept) == 50
    assert counts == {"eid": 50, "queue_full": 150}


async def test_messages_keep_their_order_and_topics(broker: MosquittoBroker) -> None:
    subscription = QoS0Subscription(broker.url, "bench/#", max_queued=10_000)
    async with subscription:
        sent = [(f"bench/{i % 3}".encode(), str(i).encode() * (i % 200)) for i in range(2000)]
        async with aiomqtt.Client("127.0.0.1", broker.port) as client:
            for topic, payload in sent:
                await client.publish(topic.decode(), payload)
        received: list[tuple[bytes, bytes]] = []
        async for batch in subscription.batches(max_batch=128):
            assert len(batch) <= 128
            received += batch
            if len(received) >= len(sent):
                break
    assert received == sent


async def test_keep_alive_holds_a_quiet_connection_and_notices_a_frozen_broker(
    broker: MosquittoBroker,
) -> None:
    subscription = QoS0Subscription(broker.url, "bench/#", max_queued=10, keepalive_s=1)
    async with subscription:
        # mosquitto closes a client silent for 1.5 keep-alive periods: still connected after
        # 3 s only if the PINGREQs went out.
        await asyncio.sleep(3.0)
        await publish_all(broker.port, [b"alive"], topic="bench/x")
        batches = subscription.batches(max_batch=10)
        assert await asyncio.wait_for(anext(batches), 5) == [(b"bench/x", b"alive")]
        # A broker that stops answering (frozen, or a network gone without a FIN): no PINGRESP
        # comes, and waiting for messages ends in an error instead of forever.
        assert broker.process is not None
        os.kill(broker.process.pid, signal.SIGSTOP)
        try:
            with pytest.raises(MqttSubscriberError, match="PINGRESP"):
                await asyncio.wait_for(anext(batches), 5)
        finally:
            os.kill(broker.process.pid, signal.SIGCONT)


async def test_the_supervisor_reconnects_after_the_broker_is_killed_and_restarted(
    broker: MosquittoBroker,
) -> None:
    counts, count = counter()
    metrics = Metrics()
    seen: list[EidSighting] = []

    async def handle(sighting: EidSighting) -> None:
        seen.append(sighting)

    stop = asyncio.Event()
    supervisor = asyncio.create_task(
        supervise(
            "ble:test",
            lambda: MqttProxyScanner(broker.url, "home/+/BTtoMQTT/#", SystemClock(), count),
            handle,
            stop,
            metrics,
            rng=random.Random(1),
        )
    )
    try:

        async def publish_until_seen(n: int) -> None:
            while len(seen) < n:  # QoS 0: until the subscription is (again) in place
                await publish_all(broker.port, [EID_MESSAGE])
                await asyncio.sleep(0.1)

        await asyncio.wait_for(publish_until_seen(1), 10)
        broker.kill()
        restarts = metrics.scanner_restarts.labels(source="ble:test", reason="failure")
        await eventually(lambda: restarts._value.get() >= 1, message="the loss noticed")
        broker.start()
        before = len(seen)
        await asyncio.wait_for(publish_until_seen(before + 1), 15)
    finally:
        stop.set()
        supervisor.cancel()  # as the daemon stops its sources: the pump is waiting
        with contextlib.suppress(asyncio.CancelledError):
            await supervisor
    assert counts["eid"] == len(seen)


async def fake_broker(send_after_subscribe: bytes) -> AsyncIterator[int]:
    """A TCP server that accepts one MQTT handshake, then sends the given bytes."""

    async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1024)  # CONNECT
        writer.write(b"\x20\x02\x00\x00")
        await reader.read(1024)  # SUBSCRIBE
        writer.write(b"\x90\x03\x00\x01\x00" + send_after_subscribe)
        await writer.drain()
        await reader.read(1024)  # until the client goes
        writer.close()

    server = await asyncio.start_server(session, "127.0.0.1", 0)
    async with server:
        yield server.sockets[0].getsockname()[1]


async def test_garbage_from_the_broker_is_counted_and_then_ends_the_connection() -> None:
    topic = b"home/door-1/BTtoMQTT/x"
    body = len(topic).to_bytes(2, "big") + topic + EID_MESSAGE
    assert 128 <= len(body) < 16384  # a two-byte remaining length
    good = b"\x30" + bytes([len(body) & 0x7F | 0x80, len(body) >> 7]) + body
    garbage = (
        good
        + b"\x62\x02\x00\x07"  # PUBREL: not for a QoS 0 subscriber
        + b"\x30\x05\x00\x09abc"  # a topic longer than its packet
        + good
        + b"\x30\xff\xff\xff\xff\x7f"  # no MQTT length: nothing after it can be found
    )
    ports = fake_broker(garbage)
    port = await anext(ports)
    counts, count = counter()
    scanner = MqttProxyScanner(f"mqtt://127.0.0.1:{port}", "home/#", SystemClock(), count)
    sightings: list[EidSighting] = []
    with pytest.raises(MqttSubscriberError, match="length"):
        async with scanner:
            async for batch in scanner.batches():
                sightings += batch
    await ports.aclose()  # type: ignore[attr-defined]
    assert len(sightings) == 2
    assert counts == {"eid": 2, "malformed": 2}


async def test_a_refusal_and_an_unreachable_broker_are_errors_not_hangs(
    broker: MosquittoBroker,
) -> None:
    async def refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1024)
        writer.write(b"\x20\x02\x00\x05")  # CONNACK: not authorised
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(refuse, "127.0.0.1", 0)
    async with server:
        port = server.sockets[0].getsockname()[1]
        with pytest.raises(MqttSubscriberError, match="not authorised"):
            async with QoS0Subscription(f"mqtt://127.0.0.1:{port}", "t", max_queued=1):
                pass
    broker.kill()
    with pytest.raises(MqttSubscriberError, match="cannot connect"):
        async with QoS0Subscription(broker.url, "t", max_queued=1, timeout_s=2):
            pass
