"""Customer records out of `retail_customers`: retained, rate-limited, and an erase that ends
with nothing retained once every store confirmed it (a real agent, a real mosquitto)."""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time

import paho.mqtt.client as paho
import psycopg
from paho.mqtt.enums import CallbackAPIVersion

from central.publish import Publisher, PublishOptions
from central.schema import migrate
from simulators.customers import demo_customer
from simulators.mosquitto import MosquittoBroker
from tests.central.support import query, running_ingest
from tests.helpers import config_for, eventually

P = "retail/v1"


def retained(port: int, topic_filter: str, wait_s: float = 1.0) -> dict[str, bytes]:
    """What a new subscriber gets at once: the broker's retained messages."""
    got: dict[str, bytes] = {}
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="probe", protocol=paho.MQTTv5)
    client.on_message = lambda _c, _u, m: got.__setitem__(m.topic, bytes(m.payload))
    client.connect("127.0.0.1", port)
    client.subscribe(topic_filter, qos=1)
    client.loop_start()
    time.sleep(wait_s)
    client.disconnect()
    client.loop_stop()
    return got


def put_customer(dsn: str, record: dict, op: str = "upsert") -> None:
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "INSERT INTO retail_customers (customer_id, version, op, record) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (customer_id) DO UPDATE SET version = excluded.version, op = excluded.op,"
            " record = excluded.record, updated_at = now()",
            (record["customer_id"], record["version"], op, json.dumps(record)),
        )


async def test_an_erase_reaches_the_agent_comes_back_confirmed_and_clears_the_record(
    broker: MosquittoBroker, pg: str, write_config, start_agent
) -> None:
    with psycopg.connect(pg) as conn:
        migrate(conn)
    publisher = Publisher(PublishOptions(broker=broker.url, dsn=pg, client_id="publisher"))
    publisher.connect()
    conn = psycopg.connect(pg, autocommit=True)
    try:
        async with running_ingest(broker=broker.url, dsn=pg, client_id="c-1"):
            agent = await start_agent(config_for(write_config, broker.url))
            registry = agent.components.metrics.registry

            def held() -> float:
                return registry.get_sample_value("retail_edge_customer_records") or 0.0

            customer = demo_customer(random.Random(1), 1)
            customer_id = customer["customer_id"]
            put_customer(pg, customer)
            assert await asyncio.to_thread(publisher.one_pass, conn, 100) == 1
            await eventually(lambda: held() == 1, message="the agent holds the record")
            topic = f"{P}/chain/customers/{customer_id}"
            assert json.loads(retained(broker.port, topic)[topic])["version"] == customer["version"]
            # Published once: a second pass (or a restarted publisher) sends nothing again.
            assert await asyncio.to_thread(publisher.one_pass, conn, 100) == 0

            tombstone = {"customer_id": customer_id, "version": customer["version"] + 1}
            put_customer(pg, tombstone, op="erase")
            assert await asyncio.to_thread(publisher.one_pass, conn, 100) == 1
            await eventually(lambda: held() == 0, message="the agent forgot the customer")
            await eventually(
                lambda: bool(
                    query(
                        pg,
                        "SELECT 1 FROM retail_events WHERE type = 'privacy.erased'"
                        " AND data->>'customer_id' = %s",
                        customer_id,
                    )
                ),
                message="privacy.erased in the table",
            )
            assert json.loads(retained(broker.port, topic)[topic])["op"] == "erase"
            await asyncio.to_thread(publisher.one_pass, conn, 100)
            assert query(pg, "SELECT cleared_at IS NOT NULL FROM retail_customers") == [(True,)]
            now_retained = retained(broker.port, f"{P}/chain/#")
            assert topic not in now_retained  # the broker keeps nothing about the customer
            assert json.loads(now_retained[f"{P}/chain/customer_count"]) == {"records": 0}
    finally:
        conn.close()
        publisher.close()


async def test_an_erase_stays_retained_while_a_known_store_has_not_confirmed(
    broker: MosquittoBroker, pg: str
) -> None:
    with psycopg.connect(pg) as conn:
        migrate(conn)
        conn.execute("INSERT INTO retail_store_progress (store) VALUES ('away-01')")
    publisher = Publisher(PublishOptions(broker=broker.url, dsn=pg, client_id="publisher"))
    publisher.connect()
    try:
        with psycopg.connect(pg, autocommit=True) as conn:
            put_customer(pg, {"customer_id": "c-9", "version": 3}, op="erase")
            await asyncio.to_thread(publisher.one_pass, conn, 10)
            await asyncio.to_thread(publisher.one_pass, conn, 10)
        topic = f"{P}/chain/customers/c-9"
        assert json.loads(retained(broker.port, topic)[topic]) == {
            "op": "erase",
            "customer_id": "c-9",
            "version": 3,
        }
        assert query(pg, "SELECT cleared_at FROM retail_customers") == [(None,)]
    finally:
        publisher.close()


async def test_a_mass_update_goes_out_at_the_rate_and_bad_rows_are_held_back(
    broker: MosquittoBroker, pg: str
) -> None:
    with psycopg.connect(pg) as conn:
        migrate(conn)
    rng = random.Random(2)
    for i in range(30):
        put_customer(pg, demo_customer(rng, i))
    put_customer(pg, {"customer_id": "bad id!", "version": 1, "consent": {}})
    publisher = Publisher(
        PublishOptions(broker=broker.url, dsn=pg, rate_per_s=20.0, interval_s=0.5, once=True)
    )
    started = time.monotonic()
    await asyncio.to_thread(publisher.run, threading.Event())
    elapsed = time.monotonic() - started
    # 10 per half second: 31 rows take at least 3 full intervals (the 4th pass ends it).
    assert publisher.published == 30 and publisher.refused == 1
    assert elapsed >= 1.5
    unpublished = query(
        pg, "SELECT customer_id FROM retail_customers WHERE published_version IS NULL"
    )
    assert unpublished == [("bad id!",)]
    assert len([t for t in retained(broker.port, f"{P}/chain/customers/+") if t]) == 30
