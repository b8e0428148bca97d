"""A reconnecting store knows when the broker dropped customer records, and gets them back.

Through a real mosquitto whose per-client queue is small (`max_queued_messages 100`, far
below mosquitto's default of 1000 and the 5 000 records here): the broker's replay of the
retained customer topics loses most of them. Central keeps a manifest retained (record count
and version digest, docs/sync.md); the agent compares it with what it holds once the replay
has gone quiet, asks central for its records page by page, and ends with every record, the
manifest matching, and metrics saying how many were missing and recovered.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from agent.config.loader import load_config
from agent.core.customer_sync import digest_of, id_hash
from agent.sync import inbound_queue
from simulators.mosquitto import MosquittoBroker
from tests.helpers import eventually, running_central
from tests.integration.recognition_fixtures import customer

RECORDS = 5_000


def sample(agent, name: str) -> float:  # type: ignore[no-untyped-def]
    return float(agent.components.metrics.registry.get_sample_value(name, {}) or 0)


async def test_records_the_broker_dropped_are_recovered_from_central(
    tmp_path: Path, write_config, start_agent
) -> None:
    workdir = tmp_path / "mosquitto"
    workdir.mkdir()
    limits = "max_queued_messages 100\nmax_inflight_messages 10"
    with MosquittoBroker(workdir=workdir, extra_config=limits) as broker:
        async with running_central(broker.url, resend_after_s=None) as central:
            for index in range(1, RECORDS + 1):
                central.publish_customer(customer(index))
            # One erased customer among them: tombstones count in the manifest too.
            central.publish_customer({"op": "erase", "customer_id": "c-00007", "version": 9})
            central.announce_manifest()
            await eventually(central._outgoing.empty, timeout=60)
            await asyncio.sleep(0.5)  # the last PUBACKs
            agent = await start_agent(load_config(write_config(broker.url)))
            await eventually(
                lambda: sample(agent, "retail_edge_customer_manifest_match") == 1,
                timeout=60,
                message="the records held to match central's manifest",
            )
            received = sample(agent, "retail_edge_customer_messages_received")
            missing = sample(agent, "retail_edge_customer_records_missing")
            recovered = sample(agent, "retail_edge_customer_records_recovered_total")
            held = sample(agent, "retail_edge_customer_records")
            print(
                f"\nreplay delivered {received:.0f} of {RECORDS}; missing {missing:.0f},"
                f" recovered {recovered:.0f} in {central.page_requests} pages; held {held:.0f}"
            )
            assert received < RECORDS  # the broker did drop most of the replay
            assert held == RECORDS - 1  # every record but the erased customer's
            assert recovered == RECORDS - received
            assert missing == RECORDS - received  # what the check saw before the pass
            # One pass, every page asked for once.
            assert sample(agent, "retail_edge_customer_resyncs_total") == 1
            assert central.page_requests == -(-RECORDS // 250)
            # The agent's own digest is central's: the same records and versions.
            held_versions = agent.components.runner.call(
                agent.components.customers._repository.held_versions
            )
            expected = [(id_hash(c), int(r["version"])) for c, r in central.customers.items()]
            assert digest_of(held_versions) == digest_of(expected)


async def test_a_full_inbound_queue_holds_the_broker_back_and_loses_nothing(
    tmp_path: Path, write_config, start_agent, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Backpressure instead of drops: with an inbound queue of 20 messages, 2 000 retained
    records still all arrive; the agent stopped acknowledging while the queue was full."""
    monkeypatch.setattr(inbound_queue, "QUEUE_MAX_MESSAGES", 20)
    workdir = tmp_path / "mosquitto"
    workdir.mkdir()
    with MosquittoBroker(workdir=workdir, extra_config="max_queued_messages 0") as broker:
        async with running_central(broker.url, resend_after_s=None) as central:
            for index in range(1, 2_001):
                central.publish_customer(customer(index))
            await eventually(central._outgoing.empty, timeout=60)
            await asyncio.sleep(0.5)
            agent = await start_agent(load_config(write_config(broker.url)))
            await eventually(
                lambda: sample(agent, "retail_edge_customer_records") == 2_000, timeout=60
            )
            assert sample(agent, "retail_edge_mqtt_inbound_queue_full_total") > 0
            assert sample(agent, "retail_edge_mqtt_inbound_queue_peak") <= 20
            dropped = agent.components.metrics.registry.get_sample_value(
                "retail_edge_malformed_inputs_dropped_total", {"source": "mqtt.customers"}
            )
            assert not dropped
