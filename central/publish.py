"""`retail-edge central publish`: the `retail_customers` table out to the stores, retained.

Each row is one customer's current message (contract §4): `op` upsert, revoke or erase, its
`version`, and the rest of the record in `record`. A row is published when its `version` is not
the one last published (`published_version`), retained with QoS 1, and marked published only
after the broker's PUBACK; restarting the publisher therefore resends nothing already out.

Fan-out controls (docs/central.md):
- a mass update (a new consent text for every customer, say) goes out at `--rate` records per
  second, oldest change first, so the broker and every store's SQLite take it as a stream
  rather than a flood;
- only changed rows are published, never the whole table; the stores' own full resync happens
  at their (re)subscription from the broker's retained copies, not from here.

Erase: the tombstone is published retained; once every store the ingest knows (a row in
`retail_store_progress`) has sent a `privacy.erased` event for that customer received after the
erase was written, the retained topic is cleared (an empty retained message), so the broker
keeps nothing about the customer. Until then the tombstone stays: a store that was offline
gets it at its next connect.
"""

from __future__ import annotations

import json
import logging
import signal
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as paho
import psycopg
from paho.mqtt.enums import CallbackAPIVersion
from psycopg.rows import TupleRow

from agent.core.customers import MalformedMessage, parse_customer_message
from central.schema import migrate

_LOGGER = logging.getLogger(__name__)

_DUE = """
SELECT customer_id, version, op, record FROM retail_customers
WHERE published_version IS DISTINCT FROM version AND refused_version IS DISTINCT FROM version
ORDER BY updated_at, customer_id LIMIT %s
"""

_CONFIRMED_ERASES = """
SELECT c.customer_id FROM retail_customers c
WHERE c.op = 'erase' AND c.published_version = c.version AND c.cleared_at IS NULL
  AND NOT EXISTS (
    SELECT 1 FROM retail_store_progress p
    WHERE NOT EXISTS (
      SELECT 1 FROM retail_events e
      WHERE e.type = 'privacy.erased' AND e.data ->> 'customer_id' = c.customer_id
        AND e.store = p.store AND e.received_at >= c.updated_at))
"""

_RETAINED = """
SELECT count(*) FROM retail_customers WHERE published_version IS NOT NULL AND cleared_at IS NULL
"""


@dataclass(frozen=True)
class PublishOptions:
    broker: str
    dsn: str
    prefix: str = "retail/v1"
    rate_per_s: float = 200.0
    once: bool = False
    client_id: str = "central-publisher"
    ca_file: str | None = None
    interval_s: float = 1.0


def wire_message(customer_id: str, version: int, op: str, record: dict[str, Any]) -> bytes:
    """The contract §4 message of one row; raises MalformedMessage if it is not valid."""
    body = dict(record) if op == "upsert" else {}
    body.update({"op": op, "customer_id": customer_id, "version": version})
    payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    parse_customer_message(payload, customer_id)  # the agent's own parser: refuse what it would
    return payload


class Publisher:
    def __init__(self, options: PublishOptions) -> None:
        self.options = options
        parts = urlsplit(options.broker)
        if parts.scheme not in ("mqtt", "mqtts"):
            raise ValueError(f"--broker must be mqtt:// or mqtts://, got {options.broker!r}")
        client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=options.client_id, protocol=paho.MQTTv311
        )
        if parts.username:
            client.username_pw_set(unquote(parts.username), unquote(parts.password or ""))
        if parts.scheme == "mqtts":
            client.tls_set_context(ssl.create_default_context(cafile=options.ca_file))
        # MQTT 3.1.1 so the same command serves mosquitto and nats-server's MQTT listener.
        self._client = client
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or (8883 if parts.scheme == "mqtts" else 1883)
        self._announced: int | None = None
        self.published = 0
        self.cleared = 0
        self.refused = 0

    def connect(self) -> None:
        self._client.connect(self._host, self._port, keepalive=30)
        self._client.loop_start()

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def _send(self, topic: str, payload: bytes) -> None:
        info = self._client.publish(topic, payload, qos=1, retain=True)
        info.wait_for_publish(timeout=30)
        if not info.is_published():
            raise ConnectionError(f"no PUBACK for {topic}")

    def one_pass(self, conn: psycopg.Connection[TupleRow], budget: int) -> int:
        """Publish up to `budget` due rows and clear confirmed erases; returns rows published."""
        prefix = self.options.prefix
        rows = conn.execute(_DUE, (budget,)).fetchall()
        for customer_id, version, op, record in rows:
            try:
                payload = wire_message(customer_id, int(version), op, record or {})
            except MalformedMessage as exc:
                self.refused += 1
                _LOGGER.warning("customer %s v%s held back: %s", customer_id, version, exc)
                # Held back so it does not take the budget of every pass; a new version of
                # the row (fixed) is due again.
                conn.execute(
                    "UPDATE retail_customers SET refused_version = %s"
                    " WHERE customer_id = %s AND version = %s",
                    (version, customer_id, version),
                )
                continue
            self._send(f"{prefix}/chain/customers/{customer_id}", payload)
            with conn.transaction():
                conn.execute(
                    "UPDATE retail_customers SET published_version = %s, published_at = now(),"
                    " cleared_at = NULL WHERE customer_id = %s AND version = %s",
                    (version, customer_id, version),
                )
            self.published += 1
        for (customer_id,) in conn.execute(_CONFIRMED_ERASES).fetchall():
            self._send(f"{prefix}/chain/customers/{customer_id}", b"")
            with conn.transaction():
                conn.execute(
                    "UPDATE retail_customers SET cleared_at = now() WHERE customer_id = %s",
                    (customer_id,),
                )
            self.cleared += 1
            _LOGGER.info(
                "customer %s: every store confirmed the erase; retained cleared", customer_id
            )
        row = conn.execute(_RETAINED).fetchone()
        retained = int(row[0]) if row else 0
        if retained != self._announced:
            # Extension (docs/sync.md): lets each agent tell a record the broker dropped.
            announcement = json.dumps({"records": retained}).encode()
            self._send(f"{prefix}/chain/customer_count", announcement)
            self._announced = retained
        return len(rows)

    def run(self, stop: threading.Event) -> None:
        with psycopg.connect(self.options.dsn, autocommit=True) as conn:
            migrate(conn)
            self.connect()
            try:
                while not stop.is_set():
                    started = time.monotonic()
                    budget = max(1, int(self.options.rate_per_s * self.options.interval_s))
                    done = self.one_pass(conn, budget)
                    if self.options.once and done < budget:
                        return
                    # The rate limit: `budget` rows per interval at most.
                    stop.wait(max(0.0, self.options.interval_s - (time.monotonic() - started)))
            finally:
                self.close()


def run_publish(options: PublishOptions) -> int:
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    Publisher(options).run(stop)
    return 0
