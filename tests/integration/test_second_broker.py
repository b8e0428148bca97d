"""The same sync guarantees against NATS's MQTT listener: a real broker that is not mosquitto
and that speaks MQTT 3.1.1 only, so the agent's fallback from MQTT 5 is exercised for real."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from agent.core.events import AgentStarted
from simulators.central import CentralService
from simulators.nats import NatsMqttBroker
from tests.helpers import config_for, eventually


@pytest.fixture
def nats(tmp_path: Path) -> Iterator[NatsMqttBroker]:
    workdir = tmp_path / "nats"
    workdir.mkdir()
    broker = NatsMqttBroker(workdir)
    broker.start()
    yield broker
    broker.close()


@pytest.fixture
async def nats_central(nats: NatsMqttBroker) -> AsyncIterator[CentralService]:
    service = CentralService(nats.url, mqtt5=False)
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    await asyncio.wait_for(service.ready.wait(), timeout=15)
    yield service
    stop.set()
    await asyncio.wait_for(task, timeout=10)


async def test_falls_back_to_mqtt_311_and_delivers_in_order(
    nats: NatsMqttBroker, nats_central: CentralService, write_config, start_agent
) -> None:
    agent = await start_agent(config_for(write_config, nats.url, batch_max_events=20))
    link = agent.components.link
    assert link is not None
    await asyncio.wait_for(link.connected.wait(), 15)
    assert link.protocol == "3.1.1"
    for chunk in range(10):
        await agent.components.uow.record([AgentStarted(f"{chunk}-{i}") for i in range(50)])
    ledger = nats_central.ledger("test-01")
    await eventually(lambda: ledger.max_seq == 501, timeout=20, message="501 events via NATS")
    assert ledger.gaps() == [] and ledger.conflicts == 0
    await eventually(lambda: ledger.status is not None, message="status via NATS")
    assert ledger.status is not None and ledger.status["state"] == "online"
