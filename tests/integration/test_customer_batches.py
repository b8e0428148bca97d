"""Customer messages drained together are applied as one batch of savepoints (issue 17).

The batch keeps what one-at-a-time gave: arrival order decides between versions of the same
customer, a tombstone after a record forgets it, and a record that fails while being stored
(here a display name SQLite cannot encode) is counted and dropped without undoing the
records before or after it in the same transaction (contract §8.3).
"""

from __future__ import annotations

import json
from typing import Any

from agent.config.loader import load_config
from agent.sync.inbound import InboundAdapter
from agent.sync.inbound_queue import InboundItem
from tests.integration.recognition_fixtures import customer

PREFIX = "retail/v1"


def item(record: dict[str, Any]) -> InboundItem:
    return InboundItem(
        f"{PREFIX}/chain/customers/{record['customer_id']}", json.dumps(record).encode()
    )


def sample(agent, name: str, labels: dict[str, str] | None = None) -> float:  # type: ignore[no-untyped-def]
    return float(agent.components.metrics.registry.get_sample_value(name, labels or {}) or 0)


async def test_one_batch_keeps_order_tombstones_and_isolates_a_poison_record(
    write_config, start_agent
) -> None:
    agent = await start_agent(load_config(write_config(None)))
    c = agent.components
    adapter = InboundAdapter(c.topics, c.bus.handle, c.clock, c.metrics)
    poison = customer(3) | {"display_name": "\ud800"}  # valid JSON, not storable as UTF-8
    batch = [
        item(customer(1)),
        item(customer(2) | {"version": 5}),
        item(customer(2) | {"version": 4}),  # older, after a newer one: stale
        item(poison),
        item(customer(4)),
        item({"op": "erase", "customer_id": customer(4)["customer_id"], "version": 2}),
        item(customer(5)),
    ]
    await adapter.customers(batch)
    await c.bus.idle()
    repository = c.customers._repository
    held = {r.customer_id: r.version for r in c.runner.call(repository.all)}
    assert held == {
        customer(1)["customer_id"]: 1,
        customer(2)["customer_id"]: 5,
        customer(5)["customer_id"]: 1,
    }
    assert c.runner.call(repository.held_version, customer(4)["customer_id"]) == 2  # tombstone
    outcome = "retail_edge_inbound_messages_total"
    assert sample(agent, outcome, {"topic": "customers", "outcome": "applied"}) == 5
    assert sample(agent, outcome, {"topic": "customers", "outcome": "stale"}) == 1
    assert sample(agent, outcome, {"topic": "customers", "outcome": "malformed"}) == 1
    dropped = {"source": "mqtt.customers"}
    assert sample(agent, "retail_edge_malformed_inputs_dropped_total", dropped) == 1
    assert sample(agent, "retail_edge_customer_records") == 3
    # Recognition heard of every stored record (the batch's events were dispatched).
    assert len(c.recognition.directory) == 3
