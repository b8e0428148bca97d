"""The mqtt-proxy BLE adapter against a real mosquitto: every message counted by outcome,
read in batches through the buffered socket, and a bounded inbox that counts what it drops."""

from __future__ import annotations

import asyncio
import json
from collections import Counter

import aiomqtt

from agent.adapters.ble_mqtt_proxy import MqttProxyScanner
from agent.adapters.mqtt_buffered_reads import BufferedReads
from agent.adapters.mqtt_client import DeviceSubscription
from agent.core.clock import SystemClock
from agent.core.eddystone import eid_service_data
from simulators.mosquitto import MosquittoBroker
from tests.helpers import eventually

TOPIC = "home/door-esp32/BTtoMQTT/7A1122334455"


def advertisement(**fields: object) -> bytes:
    doc = {"id": "7A:11:22:33:44:55", "rssi": -60, **fields}
    return json.dumps({k: v for k, v in doc.items() if v is not None}).encode()


async def test_every_message_is_counted_by_outcome_and_eid_frames_come_in_batches(
    broker: MosquittoBroker,
) -> None:
    counts: Counter[str] = Counter()
    scanner = MqttProxyScanner(
        broker.url, "home/+/BTtoMQTT/#", SystemClock(), lambda o, n: counts.update({o: n})
    )
    eid_frame = eid_service_data(-20, bytes(range(8))).hex()
    messages = [advertisement(servicedatauuid="0xfeaa", servicedata=eid_frame)] * 300
    messages += [
        advertisement(servicedatauuid="0x181a", servicedata="00ff"),  # a thermometer
        advertisement(),  # no service data at all
        advertisement(servicedatauuid="0xfeaa", servicedata="20000bb81000"),  # Eddystone TLM
        b"{garbage",
    ]
    async with scanner:
        # The pinned aiomqtt/paho still let the socket be buffered (else: slower, and this
        # test says so before a store does).
        paho = scanner._broker._client._client  # type: ignore[union-attr]
        assert isinstance(paho._sock, BufferedReads)
        batches: list[int] = []

        async def read() -> None:
            async for batch in scanner.batches():
                batches.append(len(batch))
                assert all(s.eid == bytes(range(8)) and s.tx_power == -20 for s in batch)
                assert batch[0].reader == "proxy:door-esp32"

        reader = asyncio.create_task(read())
        async with aiomqtt.Client("127.0.0.1", broker.port) as client:
            for payload in messages:
                await client.publish(TOPIC, payload)
        await eventually(lambda: sum(counts.values()) == len(messages), message="all counted")
        reader.cancel()
    assert counts == {"eid": 300, "not_eddystone": 2, "not_eid": 1, "malformed": 1}
    assert sum(batches) == 300
    assert max(batches) > 1  # a wake-up's messages handed over together


async def test_a_full_inbox_counts_what_it_drops_and_keeps_the_rest(
    broker: MosquittoBroker,
) -> None:
    dropped = 0

    def one_more() -> None:
        nonlocal dropped
        dropped += 1

    subscription = DeviceSubscription(
        broker.url, {"bench/#": 0}, max_queued=50, on_queue_full=one_more, buffered_reads=True
    )
    async with subscription, aiomqtt.Client("127.0.0.1", broker.port) as client:
        for index in range(200):  # nobody reads meanwhile: the agent is "behind"
            await client.publish("bench/x", str(index).encode())
        await eventually(lambda: dropped == 150, message="150 counted as dropped")
        batches = subscription.message_batches(max_batch=20)
        kept = [m.payload for _ in range(3) for m in await anext(batches)]
        assert kept[:3] == [b"0", b"1", b"2"] and len(kept) == 50
