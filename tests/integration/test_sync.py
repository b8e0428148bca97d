"""MQTT sync against a real mosquitto: order, no gaps, window, outages, status, customers."""

from __future__ import annotations

import asyncio
import json

import aiomqtt

from agent.core.events import AgentStarted
from simulators.central import CentralService
from simulators.customers import demo_customer, tombstone
from simulators.mosquitto import MosquittoBroker
from tests.helpers import config_for, eventually


async def retained(broker: MosquittoBroker, topic: str) -> dict[str, object]:
    async with aiomqtt.Client("127.0.0.1", broker.port) as client:
        await client.subscribe(topic, qos=1)
        async with asyncio.timeout(5):
            async for message in client.messages:
                assert isinstance(message.payload, bytes)
                return dict(json.loads(message.payload))
    raise AssertionError("no retained message")


async def test_events_arrive_in_order_with_contiguous_seq(
    broker: MosquittoBroker, central: CentralService, write_config, start_agent
) -> None:
    agent = await start_agent(config_for(write_config, broker.url))
    for i in range(50):
        await agent.components.uow.record([AgentStarted(str(i))])
    ledger = central.ledger("test-01")
    await eventually(lambda: ledger.max_seq == 51, message="51 events at central")
    assert ledger.gaps() == [] and ledger.conflicts == 0
    versions = [e["data"]["version"] for e in ledger.events_of_type("agent.started")[1:]]
    assert versions == [str(i) for i in range(50)]
    status = await retained(broker, "retail/v1/stores/test-01/status")
    assert status["state"] == "online" and "version" in status and "ts" in status
    health = await agent.components.health.report()
    await eventually(lambda: agent.components.outbox.stats().depth == 0, message="outbox drained")
    assert health.mqtt == "connected"


async def test_backlog_from_an_outage_drains_in_order_within_the_window(
    broker: MosquittoBroker, central: CentralService, write_config, start_agent
) -> None:
    config = config_for(write_config, broker.url, inflight_window=4, batch_max_events=10)
    agent = await start_agent(config)
    ledger = central.ledger("test-01")
    await eventually(lambda: ledger.max_seq == 1, message="agent.started delivered")
    broker.stop()
    link = agent.components.link
    assert link is not None
    await eventually(lambda: link.state.value == "disconnected", message="link notices outage")
    # Ten seconds of outage while the store keeps producing (300 events/s).
    loop = asyncio.get_running_loop()
    started = loop.time()
    for chunk in range(30):
        await agent.components.uow.record([AgentStarted(f"{chunk}-{i}") for i in range(100)])
        await asyncio.sleep(max(0.0, started + (chunk + 1) / 3 - loop.time()))
    assert loop.time() - started >= 10
    assert (await agent.components.health.report()).outbox == 3000
    broker.start()
    await eventually(lambda: ledger.max_seq == 3001, timeout=30, message="backlog delivered")
    await eventually(lambda: ledger.gaps() == [], message="no gaps")
    assert ledger.conflicts == 0
    publisher = link._publisher
    assert 1 <= publisher.peak_inflight <= 4
    # Backlog goes up as arrays (contract §4), so far fewer messages than events.
    assert ledger.messages < 3001 / 5
    await eventually(lambda: agent.components.outbox.stats().depth == 0, message="outbox empty")


async def test_clean_stop_says_offline(broker: MosquittoBroker, write_config, start_agent) -> None:
    agent = await start_agent(config_for(write_config, broker.url))
    link = agent.components.link
    assert link is not None
    await asyncio.wait_for(link.connected.wait(), 10)
    await agent.daemon.stop()
    status = await retained(broker, "retail/v1/stores/test-01/status")
    assert status["state"] == "offline"


async def test_customer_records_apply_by_version_and_bad_ones_are_counted(
    broker: MosquittoBroker, central: CentralService, write_config, start_agent
) -> None:
    import random

    agent = await start_agent(config_for(write_config, broker.url))
    assert agent.components.link is not None
    await asyncio.wait_for(agent.components.link.connected.wait(), 10)
    repo_count = agent.components.customers._repository.count
    runner = agent.components.runner
    rng = random.Random(3)
    record = demo_customer(rng, 1, version=5)
    central.publish_customer(record)
    central.publish_raw("retail/v1/chain/customers/c-00002", b"{not json")
    central.publish_raw("retail/v1/chain/customers/c-00005", b"[" * 200_000)  # huge
    central.publish_raw(
        "retail/v1/chain/customers/c-00003", json.dumps(demo_customer(rng, 4)).encode()
    )  # id does not match its topic
    stale = dict(record, display_name="Stale", version=4)
    central.publish_customer(stale)
    await eventually(
        lambda: (
            _sample(agent, "retail_edge_inbound_messages_total", topic="customers", outcome="stale")
            == 1
        ),
        message="stale record counted",
    )
    assert await runner.run(repo_count) == 1
    held = await runner.run(agent.components.customers._repository.get, "c-00001")
    assert held is not None and held.display_name == record["display_name"]
    assert (
        _sample(agent, "retail_edge_malformed_inputs_dropped_total", source="mqtt.customers") == 3
    )

    central.publish_customer(tombstone("c-00001", "erase", 6))
    ledger = central.ledger("test-01")
    await eventually(lambda: bool(ledger.events_of_type("privacy.erased")), message="erased")
    (erased,) = ledger.events_of_type("privacy.erased")
    assert erased["data"] == {"customer_id": "c-00001", "records_deleted": 1}
    assert await runner.run(repo_count) == 0
    central.publish_customer(dict(record, version=6))  # not newer than the tombstone
    await eventually(
        lambda: (
            _sample(agent, "retail_edge_inbound_messages_total", topic="customers", outcome="stale")
            == 2
        ),
        message="replayed record ignored",
    )
    assert await runner.run(repo_count) == 0


def _sample(agent, name: str, **labels: str) -> float:  # type: ignore[no-untyped-def]
    value = agent.components.metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else float(value)
