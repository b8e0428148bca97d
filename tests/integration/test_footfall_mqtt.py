"""Door counters over a real broker: resets, duplicates, garbage, retained occupancy."""

from __future__ import annotations

import asyncio

import aiomqtt

from simulators.mosquitto import MosquittoBroker
from tests.helpers import eventually
from tests.integration.test_sync import retained

FOOTFALL = """
[occupancy]
capacity = 10
publish_min_interval_s = 0.1
report_interval_s = 10

[[devices]]
kind = "footfall"
adapter = "mqtt"
door = "main"
"""
IN = "footfall-main/sensor/people_in/state"
OUT = "footfall-main/sensor/people_out/state"


async def publish(broker: MosquittoBroker, *messages: tuple[str, bytes, bool]) -> None:
    async with aiomqtt.Client("127.0.0.1", broker.port) as client:
        for topic, payload, retain in messages:
            await client.publish(topic, payload, qos=1, retain=retain)


async def test_counts_resets_duplicates_and_garbage(
    broker: MosquittoBroker, write_config, start_agent
) -> None:
    from agent.config.loader import load_config

    agent = await start_agent(load_config(write_config(broker.url, extra=FOOTFALL)))
    footfall = agent.components.footfall
    metrics = agent.components.metrics.registry
    assert agent.components.link is not None
    await asyncio.wait_for(agent.components.link.connected.wait(), 10)
    await asyncio.sleep(0.3)  # the door counter's own subscription
    # The node publishes retained states, as ESPHome does.
    await publish(broker, (IN, b"5", True), (OUT, b"1", True))
    await eventually(lambda: footfall.occupancy.inside == 4, message="first values in full")
    await publish(broker, (IN, b"5", True), (IN, b"7", True), (IN, b"7", False))
    await eventually(lambda: footfall.occupancy.inside == 6, message="+2, repeats ignored")
    await publish(broker, (IN, b"2", True))  # the node rebooted: 2 since boot
    await eventually(lambda: footfall.occupancy.inside == 8, message="reboot counted from 0")
    await publish(broker, (OUT, b"banana", False), (OUT, b"-4", False), (IN, b"\xff", False))
    await eventually(
        lambda: (
            (
                metrics.get_sample_value(
                    "retail_edge_malformed_inputs_dropped_total", {"source": "footfall_garbage"}
                )
                or 0
            )
            == 3
        ),
        message="garbage counted",
    )
    assert footfall.occupancy.inside == 8
    await publish(broker, (OUT, b"20", True))  # more out than ever in: clamp at zero
    await eventually(lambda: footfall.occupancy.inside == 0, message="clamped")
    await publish(broker, (IN, b"12", True))
    await eventually(lambda: footfall.occupancy.inside == 10, message="full")
    # The retained message is coalesced (publish_min_interval_s), so it may trail memory a
    # little: read it until it catches up.
    for _ in range(100):
        occupancy = await retained(broker, "retail/v1/stores/test-01/occupancy")
        if occupancy["occupancy"] == 10:
            break
        await asyncio.sleep(0.1)
    assert occupancy["occupancy"] == 10 and occupancy["capacity"] == 10
    assert occupancy["level"] == "full" and occupancy["ts"].endswith("Z")
    # The agent restarts: the node's retained states must not count again.
    config = agent.components.config
    await agent.daemon.stop()
    again = await start_agent(config)
    assert again.components.link is not None
    await asyncio.wait_for(again.components.link.connected.wait(), 10)
    await asyncio.sleep(1.0)
    assert again.components.footfall.occupancy.inside == 0  # a new day's count, nothing replayed
    await publish(broker, (IN, b"13", True))
    await eventually(lambda: again.components.footfall.occupancy.inside == 1, message="+1 only")


async def test_footfall_counted_events_per_door_and_interval(
    broker: MosquittoBroker, central, write_config, start_agent
) -> None:
    from agent.config.loader import load_config

    agent = await start_agent(load_config(write_config(broker.url, extra=FOOTFALL)))
    await asyncio.wait_for(agent.components.link.connected.wait(), 10)  # type: ignore[union-attr]
    await asyncio.sleep(0.3)
    await publish(broker, (IN, b"3", False), (OUT, b"1", False))
    await eventually(lambda: agent.components.footfall.occupancy.inside == 2, message="counted")
    await agent.components.footfall.report_if_due(force=True)
    ledger = central.ledger("test-01")
    await eventually(lambda: bool(ledger.events_of_type("footfall.counted")), message="event")
    (event,) = ledger.events_of_type("footfall.counted")
    data = event["data"]
    assert (data["door"], data["in"], data["out"]) == ("main", 3, 1)
    assert data["from"] < data["to"] and data["to"].endswith("Z")
