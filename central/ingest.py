"""`retail-edge central ingest`: broker -> PostgreSQL, acknowledged after the commit.

The loop takes a batch of deliveries, parses them, writes the valid events in one transaction
and only then acknowledges the whole batch (the unparseable deliveries too: they are counted
and dropped, never retried and never a reason to reconnect). If the database fails, the same
batch is written again until it succeeds, and nothing is acknowledged meanwhile: a process
killed at any point leaves its unacknowledged messages to the broker, which sends them again,
and the table's keys turn the repeat into counted duplicates.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import socket
from dataclasses import dataclass

import psycopg
from psycopg.rows import TupleRow

from central.envelope import Event, parse_message
from central.metrics import IngestMetrics
from central.mqtt_source import MqttSource
from central.nats_source import NatsSource
from central.schema import migrate
from central.source import Delivery, Source
from central.watcher import GapWatcher
from central.writer import EventWriter

_LOGGER = logging.getLogger(__name__)

_SAVE_STATE = """
INSERT INTO retail_store_progress (store, state, state_at) VALUES (%s, %s, now())
ON CONFLICT (store) DO UPDATE SET state = excluded.state, state_at = excluded.state_at
"""


@dataclass(frozen=True)
class IngestOptions:
    broker: str
    dsn: str
    prefix: str = "retail/v1"
    group: str = "central"
    client_id: str | None = None
    batch_max: int = 500
    batch_wait_s: float = 0.2
    resend_after_s: float = 5.0
    probe_after_s: float = 30.0  # a store silent this long is asked for what may follow
    watch_interval_s: float = 1.0
    metrics_port: int | None = None
    replicas: int = 1  # NATS: the stream's and consumer's replicas (3 on a 3-node cluster)
    ack_wait_s: float = 30.0  # NATS: redelivery of what a dead consumer had not acknowledged
    ca_file: str | None = None


def make_source(options: IngestOptions, metrics: IngestMetrics) -> Source:
    if options.broker.startswith(("mqtt://", "mqtts://")):
        client_id = options.client_id or f"central-{options.group}-{socket.gethostname()}"
        return MqttSource(
            options.broker,
            options.prefix,
            options.group,
            client_id,
            metrics,
            ca_file=options.ca_file,
            receive_maximum=max(100, 2 * options.batch_max),
        )
    if options.broker.startswith(("nats://", "tls://")):
        return NatsSource(
            options.broker,
            options.prefix,
            options.group,
            metrics,
            replicas=options.replicas,
            ack_wait_s=options.ack_wait_s,
            ca_file=options.ca_file,
        )
    raise ValueError(
        f"--broker must be mqtt://, mqtts://, nats:// or tls:// (NATS), got {options.broker!r}"
    )


class Ingest:
    def __init__(self, options: IngestOptions, metrics: IngestMetrics | None = None) -> None:
        self.options = options
        self.metrics = metrics or IngestMetrics()
        self.source = make_source(options, self.metrics)

    async def run(self, stop: asyncio.Event) -> None:
        with psycopg.connect(self.options.dsn) as conn:
            migrate(conn)
        if self.options.metrics_port is not None:
            self.metrics.serve(self.options.metrics_port)
        try:
            await self.source.start()
        except BaseException:
            await self.source.close()
            raise
        watcher = GapWatcher(
            self.options.dsn,
            self.options.prefix,
            self.source.publish,
            self.metrics,
            resend_after_s=self.options.resend_after_s,
            interval_s=self.options.watch_interval_s,
            probe_after_s=self.options.probe_after_s,
        )
        watching = asyncio.create_task(watcher.run(stop))
        try:
            await self._consume(stop)
        finally:
            stop.set()
            await watching
            await self.source.close()

    async def _consume(self, stop: asyncio.Event) -> None:
        conn: psycopg.AsyncConnection[TupleRow] | None = None
        try:
            while not stop.is_set():
                deliveries = await self.source.batch(
                    self.options.batch_max, self.options.batch_wait_s
                )
                if not deliveries:
                    continue
                events, states = self._parse(deliveries)
                while True:  # the same batch until it is committed (or we are stopped)
                    try:
                        if conn is None or conn.closed:
                            conn = await psycopg.AsyncConnection.connect(self.options.dsn)
                        await EventWriter(conn, self.metrics).write(events)
                        await self._save_states(conn, states)
                        break
                    except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
                        self.metrics.db_errors.inc()
                        _LOGGER.warning("database write failed (%s); retrying the batch", exc)
                        if conn is not None:
                            await conn.close()
                        conn = None
                        if stop.is_set():
                            return  # not acknowledged: the broker sends them again
                        await asyncio.sleep(0.5)
                await self.source.ack(deliveries)
        finally:
            if conn is not None:
                await conn.close()

    def _parse(self, deliveries: list[Delivery]) -> tuple[list[Event], dict[str, str]]:
        events: list[Event] = []
        states: dict[str, str] = {}
        for delivery in deliveries:
            if delivery.kind == "status":
                state = _status_state(delivery.payload)
                if delivery.store is not None and state is not None:
                    states[delivery.store] = state
                elif delivery.payload:  # an empty payload is a cleared retained status
                    self.metrics.malformed.labels("bad_status").inc()
                continue
            if delivery.kind != "events" or delivery.store is None:
                self.metrics.malformed.labels("bad_topic").inc()
                continue
            self.metrics.messages.inc()
            parsed = parse_message(delivery.store, delivery.payload)
            events += parsed.events
            for reason, count in parsed.rejected.items():
                self.metrics.malformed.labels(reason).inc(count)
        return events, states

    @staticmethod
    async def _save_states(conn: psycopg.AsyncConnection[TupleRow], states: dict[str, str]) -> None:
        if not states:
            return
        async with conn.transaction(), conn.cursor() as cursor:
            await cursor.executemany(_SAVE_STATE, sorted(states.items()))


def _status_state(payload: bytes) -> str | None:
    """`online` / `offline` from a store's status message; None if it is not one."""
    try:
        doc = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    state = doc.get("state") if isinstance(doc, dict) else None
    return state if state in ("online", "offline") else None


def run_ingest(options: IngestOptions) -> int:
    """The command: runs until SIGTERM/SIGINT."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await Ingest(options).run(stop)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
    return 0
