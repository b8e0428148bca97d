"""Contract §8.3 through a real broker: a message on an inbound topic that cannot be parsed
or applied (any JSON, any depth, any number size) is counted and dropped; the MQTT connection
stays up, and a retained poison record does not block the retained records behind it.

Before the inbound adapter, JSON nested past the parser's recursion limit raised RecursionError
and a 2**64 number reached SQLite as OverflowError; either left the handler, closed the
connection, and a retained one was delivered again on every reconnect.
"""

from __future__ import annotations

import asyncio
import json

import aiomqtt

from agent.config.loader import load_config
from simulators.central import CentralService
from simulators.mosquitto import MosquittoBroker
from tests.helpers import eventually
from tests.integration.recognition_fixtures import customer

PREFIX = "retail/v1"
CHECKINS = f"{PREFIX}/stores/test-01/checkins"
RESEND = f"{PREFIX}/stores/test-01/resend"
HUGE = 2**64


def customer_topic(customer_id: str) -> str:
    return f"{PREFIX}/chain/customers/{customer_id}"


def record(index: int, **change: object) -> bytes:
    doc = customer(index) | change
    return json.dumps(doc).encode()


def sample(agent, name: str, labels: dict[str, str] | None = None) -> float:  # type: ignore[no-untyped-def]
    value = agent.components.metrics.registry.get_sample_value(name, labels or {})
    return float(value or 0)


def dropped(agent, source: str) -> float:  # type: ignore[no-untyped-def]
    return sample(agent, "retail_edge_malformed_inputs_dropped_total", {"source": source})


POISON = {
    "customers": [
        (customer_topic("c-00001"), b"[" * 100_000),  # over the size limit
        (customer_topic("c-00001"), b"[" * 60_000),  # under it, past the recursion limit
        (customer_topic("c-00001"), b"1" * 60_000),  # an integer of 60 000 digits
        (customer_topic("c-00001"), record(1, version=HUGE)),
        (
            customer_topic("c-00001"),
            json.dumps({"op": "erase", "customer_id": "c-00001", "version": HUGE}).encode(),
        ),
    ],
    "checkins": [
        (CHECKINS, b"[" * 100_000),
        (CHECKINS, b"[" * 4_000),
        (CHECKINS, json.dumps({"customer_id": "c-00001", "at": HUGE}).encode()),
    ],
    "resend": [
        (RESEND, b"[" * 100_000),
        (RESEND, b"[" * 1_000),
        (RESEND, json.dumps({"from_seq": HUGE, "to_seq": HUGE}).encode()),
        (RESEND, json.dumps({"from_seq": 2**63 - 5, "to_seq": HUGE}).encode()),
    ],
}


async def test_poison_messages_are_counted_and_dropped_and_the_link_stays_up(
    broker: MosquittoBroker, central: CentralService, write_config, start_agent
) -> None:
    agent = await start_agent(load_config(write_config(broker.url)))
    assert agent.components.link is not None
    await asyncio.wait_for(agent.components.link.connected.wait(), 10)
    async with aiomqtt.Client("127.0.0.1", broker.port) as client:
        for messages in POISON.values():
            for topic, payload in messages:
                await client.publish(topic, payload, qos=1)
        # A valid record behind all of them, on the same connection.
        await client.publish(customer_topic("c-00002"), record(2), qos=1)
    recognition = agent.components.recognition
    await eventually(lambda: len(recognition.directory) == 1, message="the valid record")
    for source, messages in POISON.items():
        assert dropped(agent, f"mqtt.{source}") == len(messages), source
    assert dropped(agent, "mqtt.unhandled") == 0
    assert sample(agent, "retail_edge_mqtt_connects_total") == 1
    assert sample(agent, "retail_edge_mqtt_connect_failures_total") == 0
    assert agent.components.link.connected.is_set()


async def test_a_retained_poison_record_does_not_block_the_records_behind_it(
    broker: MosquittoBroker, write_config, start_agent
) -> None:
    async with aiomqtt.Client("127.0.0.1", broker.port) as client:
        await client.publish(customer_topic("c-00001"), b"[" * 60_000, qos=1, retain=True)
        await client.publish(customer_topic("c-00002"), record(2, version=HUGE), qos=1, retain=True)
        for index in (3, 4, 5):
            await client.publish(
                customer_topic(f"c-0000{index}"), record(index), qos=1, retain=True
            )
    agent = await start_agent(load_config(write_config(broker.url)))
    assert agent.components.link is not None
    await asyncio.wait_for(agent.components.link.connected.wait(), 10)
    recognition = agent.components.recognition
    await eventually(lambda: len(recognition.directory) == 3, message="the valid records")
    assert {"c-00003", "c-00004", "c-00005"} == set(recognition.directory)
    assert dropped(agent, "mqtt.customers") == 2
    await asyncio.sleep(1.0)  # a reconnect loop would show by now
    assert sample(agent, "retail_edge_mqtt_connects_total") == 1
    assert sample(agent, "retail_edge_mqtt_connect_failures_total") == 0
