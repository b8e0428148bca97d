"""A broker's per-client queue that drops retained customer records shows in /metrics (issue 12,
item 10).

mosquitto queues at most `max_queued_messages` messages per client beyond the
`max_inflight_messages` in flight and drops the rest without telling anyone; a store
subscribing to `customers/+` is sent every retained record at once. Per-customer `version`s
cannot reveal a record that never came, so central announces how many customer topics it
keeps retained (extension topic `{p}/chain/customer_count`) and the agent exposes
`retail_edge_customer_records_behind`: announced minus customer messages received since its
subscription. Through a real mosquitto with a small queue the metric shows the loss; with an
unlimited queue it is 0.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from agent.config.loader import load_config
from simulators.mosquitto import MosquittoBroker
from tests.helpers import eventually, running_central
from tests.integration.recognition_fixtures import customer

RECORDS = 2_000


def sample(agent, name: str) -> float:  # type: ignore[no-untyped-def]
    return float(agent.components.metrics.registry.get_sample_value(name, {}) or 0)


@pytest.mark.parametrize(
    ("queue", "loses"),
    [
        pytest.param("max_queued_messages 100\nmax_inflight_messages 10", True, id="small-queue"),
        pytest.param("max_queued_messages 0\nmax_inflight_messages 10", False, id="unlimited"),
    ],
)
async def test_records_the_broker_dropped_show_as_behind(
    tmp_path: Path, write_config, start_agent, queue: str, loses: bool
) -> None:
    workdir = tmp_path / "mosquitto"
    workdir.mkdir()
    with MosquittoBroker(workdir=workdir, extra_config=queue) as broker:
        async with running_central(broker.url, resend_after_s=None) as central:
            for index in range(1, RECORDS + 1):
                central.publish_customer(customer(index))
            central.announce_customer_count(RECORDS)
            await eventually(central._outgoing.empty, timeout=60)
            await asyncio.sleep(0.5)  # the last PUBACKs
            agent = await start_agent(load_config(write_config(broker.url)))
            name = "retail_edge_customer_messages_received"
            # Until the replay stops: received stays the same for a second with nothing left
            # in the inbound queue (records are counted as each drained batch is taken, so a
            # batch still queued behind a slow apply would look like the end).
            last = -1.0
            depth = "retail_edge_mqtt_inbound_queue_depth"
            while (now := sample(agent, name)) != last or sample(agent, depth) > 0:
                last = now
                await asyncio.sleep(1.0)
            received = sample(agent, name)
            announced = sample(agent, "retail_edge_customer_records_announced")
            behind = sample(agent, "retail_edge_customer_records_behind")
            applied = sample(agent, "retail_edge_customer_records")
            print(
                f"\n{queue.splitlines()[0]}: announced {announced:.0f}, received"
                f" {received:.0f}, behind {behind:.0f}, records held {applied:.0f}"
            )
            assert announced == RECORDS
            assert behind == RECORDS - received
            if loses:
                assert behind > 0 and received < RECORDS
                assert applied == received  # the metric tells the truth about what is held
            else:
                assert behind == 0 and received == RECORDS
