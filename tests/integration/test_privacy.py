"""Non-consenting people leave no trace: unknown EIDs, cards and passes are only counted.

Strangers' readings are injected through the real entry points; afterwards the database
files, the log output and everything published on the broker are searched for them.
"""

from __future__ import annotations

import asyncio
import json
import logging

import aiomqtt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent.bootstrap import build
from agent.config.loader import load_config
from agent.core.clock import ManualClock
from agent.core.customers import parse_customer_message
from agent.core.messages import ApplyCustomerMessage
from agent.core.passes import sign_pass
from agent.core.readings import EidSighting, NfcTap, QrScan
from agent.services.recognition import ADDRESS_PURGE_EVERY_S
from simulators.ble_phones import Walk
from simulators.central import CentralService
from simulators.mosquitto import MosquittoBroker
from tests.helpers import eventually
from tests.integration.recognition_fixtures import DEVICES, customer


async def test_strangers_leave_no_record_anywhere(
    broker: MosquittoBroker,
    central: CentralService,
    write_config,
    start_agent,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    captured: list[bytes] = []
    capture_ready = asyncio.Event()

    async def capture() -> None:
        async with aiomqtt.Client("127.0.0.1", broker.port) as client:
            await client.subscribe("#", qos=1)
            capture_ready.set()
            async for message in client.messages:
                captured.append(message.topic.value.encode() + b" " + bytes(message.payload))  # type: ignore[arg-type]

    sniffer = asyncio.create_task(capture())
    await capture_ready.wait()
    agent = await start_agent(load_config(write_config(broker.url, extra=DEVICES)))
    await asyncio.wait_for(agent.components.link.connected.wait(), 10)  # type: ignore[union-attr]
    central.publish_customer(customer(1))  # one consenting customer exists
    recognition = agent.components.recognition
    await eventually(lambda: len(recognition.directory) == 1, message="record applied")

    phones = agent.components.extras["ble"]
    reader = agent.components.extras["nfc"]
    for _ in range(3):
        phones.walk_in(None, Walk(approach_s=0.5, door_s=1.5, inside_s=1))  # type: ignore[attr-defined]
    stranger_card = "04C0FFEE123456"
    reader.tap(stranger_card)  # type: ignore[attr-defined]
    forged = sign_pass("c-00001", 2_000_000_000, Ed25519PrivateKey.generate())
    expired = "RTL1.stranger-77.1000000000.AAAA"
    for payload in (forged, expired, "https://example.com/promo-4242"):
        await recognition.scan(QrScan(payload, "cam", agent.components.clock.monotonic()))
    await eventually(lambda: phones.sent > 20, message="phones advertised")  # type: ignore[attr-defined]
    await asyncio.sleep(2.5)
    await agent.daemon.stop()
    sniffer.cancel()

    secrets = {stranger_card.encode(), b"stranger-77", b"promo-4242", forged.encode()[-40:]}
    stranger_eids = set()
    for _, cached in list(recognition.addresses._entries.items()):
        if cached.customer_id is None:
            stranger_eids.add(cached.eid)
    assert stranger_eids, "the strangers' phones were heard"
    for eid in stranger_eids:
        secrets |= {eid, eid.hex().encode(), eid.hex().upper().encode()}
    db_path = agent.components.config.storage.path
    files = b"".join(
        path.read_bytes() for path in db_path.parent.iterdir() if path.name.startswith(db_path.name)
    )
    logs = caplog.text.encode()
    published = b"\n".join(captured)
    for secret in secrets:
        assert secret not in files, f"{secret!r} in the database"
        assert secret not in logs, f"{secret!r} in the logs"
        assert secret not in published, f"{secret!r} on MQTT"
    metrics = agent.components.metrics.registry
    for kind in ("ble", "nfc", "qr"):
        assert (
            metrics.get_sample_value("retail_edge_readings_dropped_total", {"kind": kind}) or 0
        ) >= 1


async def test_visit_retention_purge(write_config) -> None:
    clock = ManualClock()
    components = build(load_config(write_config(None, extra=DEVICES)), clock=clock)
    try:
        await components.recognition.load()
        record = customer(8)
        message = parse_customer_message(json.dumps(record).encode(), "c-00008")
        await components.customers.apply(ApplyCustomerMessage(message))
        uid = record["credentials"]["nfc_uids"][0]
        await components.recognition.tap(NfcTap(uid, "counter", clock.monotonic()))

        def count(table: str) -> int:
            sql = f"SELECT COUNT(*) FROM {table}"  # noqa: S608 - fixed table names
            return int(
                components.runner.call(lambda: components.database.conn.execute(sql).fetchone()[0])
            )

        assert (count("visits"), count("alerts")) == (1, 1)
        assert (
            await components.recognition.purge(visit_retention_days=90, alert_retention_h=24) == 0
        )
        clock.advance(25 * 3600)  # the alert is past its 24 h
        assert (
            await components.recognition.purge(visit_retention_days=90, alert_retention_h=24) == 1
        )
        clock.advance(90 * 86400)  # and the visit past its 90 days
        assert (
            await components.recognition.purge(visit_retention_days=90, alert_retention_h=24) == 1
        )
        assert (count("visits"), count("alerts")) == (0, 0)
    finally:
        components.runner.call(components.database.close)
        components.runner.close()


async def test_a_strangers_address_is_forgotten_once_its_ttl_is_over(write_config) -> None:
    # The address cache remembers a stranger's phone for unresolved_ttl_s (30 s) so it is not
    # resolved on every advertisement; the recognition tick must then drop it, not keep it
    # until the LRU bound pushes it out.
    clock = ManualClock()
    components = build(load_config(write_config(None, extra=DEVICES)), clock=clock)
    recognition = components.recognition
    try:
        await recognition.load()
        stranger = EidSighting(
            bytes(range(8)), -60, -20, "AA:BB:CC:DD:EE:01", "t", clock.monotonic()
        )
        await recognition.sightings([stranger])
        await recognition.tick()
        assert "AA:BB:CC:DD:EE:01" in recognition.addresses._entries
        clock.advance(29)
        await recognition.tick()
        assert "AA:BB:CC:DD:EE:01" in recognition.addresses._entries  # within its TTL
        clock.advance(2 + ADDRESS_PURGE_EVERY_S)
        await recognition.tick()
        assert "AA:BB:CC:DD:EE:01" not in recognition.addresses._entries
        assert len(recognition.addresses) == 0
    finally:
        components.runner.call(components.database.close)
        components.runner.close()
