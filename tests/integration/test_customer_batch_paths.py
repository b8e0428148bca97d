"""The two ways a drained customer batch is applied give the same result (issue 17).

A batch is first applied whole (upserts through prepared statements over the batch, no
savepoint per record); only if something in it fails is it undone and applied again one
savepoint per message. These cases are the ones where a shortcut would differ: versions of
one customer on both sides of a tombstone, consent withdrawn inside the batch, and a poison
record whose customer comes back later in the same batch at a lower version (which must
then apply, since the poison one was never held).
"""

from __future__ import annotations

from agent.config.loader import load_config
from agent.store.customers import tombstone_key
from agent.sync.inbound import InboundAdapter
from tests.integration.recognition_fixtures import customer
from tests.integration.test_customer_batches import item, sample

OUTCOMES = "retail_edge_inbound_messages_total"


async def test_a_whole_batch_keeps_arrival_order_across_tombstones_and_consent(
    write_config, start_agent
) -> None:
    agent = await start_agent(load_config(write_config(None)))
    c = agent.components
    adapter = InboundAdapter(c.topics, c.bus.handle, c.clock, c.metrics)
    one, two = customer(1)["customer_id"], customer(2)["customer_id"]
    await adapter.customers(
        [
            item(customer(1)),
            item({"op": "erase", "customer_id": one, "version": 2}),
            item(customer(1) | {"version": 3, "display_name": "Back again"}),
            item(customer(2)),
            item(customer(2, recognition=False) | {"version": 2}),  # consent withdrawn
            item(customer(3, staff_profile=False)),
        ]
    )
    await c.bus.idle()
    repository = c.customers._repository
    held = {r.customer_id: r for r in c.runner.call(repository.all)}
    assert sorted(held) == [one, customer(3)["customer_id"]]
    assert (held[one].version, held[one].display_name) == (3, "Back again")
    assert held[customer(3)["customer_id"]].profile == {}  # no staff consent: no profile
    tombstones = c.runner.call(
        lambda: dict(c.database.conn.execute("SELECT id_hash, op FROM customer_tombstones"))
    )
    assert tombstones == {tombstone_key(two): "revoke"}  # one's erase was superseded
    assert one in c.recognition.directory
    assert two not in c.recognition.directory
    assert customer(3)["customer_id"] in c.recognition.directory
    assert sample(agent, OUTCOMES, {"topic": "customers", "outcome": "applied"}) == 6
    assert sample(agent, "retail_edge_customer_records") == 2


async def test_a_poison_record_sends_the_batch_message_by_message_with_the_same_outcome(
    write_config, start_agent
) -> None:
    agent = await start_agent(load_config(write_config(None)))
    c = agent.components
    adapter = InboundAdapter(c.topics, c.bus.handle, c.clock, c.metrics)
    await adapter.customers(
        [
            item(customer(1)),
            item(customer(2) | {"version": 3, "display_name": "\udc00"}),  # not storable
            item(customer(2) | {"version": 2}),  # lower, but nothing of 2 is held
            item(customer(3)),
        ]
    )
    await c.bus.idle()
    repository = c.customers._repository
    held = {r.customer_id: r.version for r in c.runner.call(repository.all)}
    assert held == {customer(1)["customer_id"]: 1, customer(2)["customer_id"]: 2,
                    customer(3)["customer_id"]: 1}  # fmt: skip
    assert sample(agent, OUTCOMES, {"topic": "customers", "outcome": "applied"}) == 3
    assert sample(agent, OUTCOMES, {"topic": "customers", "outcome": "malformed"}) == 1
    # The whole-batch attempt was undone: its events too (each record reached recognition
    # once, from the message-by-message pass).
    assert len(c.recognition.directory) == 3
    assert sample(agent, "retail_edge_customer_records") == 3
