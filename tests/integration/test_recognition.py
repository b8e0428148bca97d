"""Opt-in recognition end to end with a real broker: records in, phones/cards/app/proxy at
the door, arrival alerts on the staff stream, visit events at the central side, erase."""

from __future__ import annotations

import asyncio
import json

import aiomqtt
import httpx

from agent.config.loader import load_config
from agent.core.clock import rfc3339
from agent.core.eddystone import eid_service_data
from agent.core.eid import compute_eid
from simulators.ble_phones import Walk
from simulators.central import CentralService
from simulators.mosquitto import MosquittoBroker
from tests.helpers import eventually
from tests.integration.queue_fixtures import staff_headers
from tests.integration.recognition_fixtures import DEVICES, StaffStream, credential, customer


async def started(write_config, start_agent, broker: MosquittoBroker, extra: str = DEVICES):  # type: ignore[no-untyped-def]
    agent = await start_agent(load_config(write_config(broker.url, extra=extra)))
    assert agent.components.link is not None
    await asyncio.wait_for(agent.components.link.connected.wait(), 10)
    return agent


async def test_a_phone_at_the_door_raises_one_alert_and_a_visit(
    broker: MosquittoBroker, central: CentralService, write_config, start_agent
) -> None:
    agent = await started(write_config, start_agent, broker)
    record = customer(1)
    central.publish_customer(record)
    recognition = agent.components.recognition
    await eventually(lambda: len(recognition.directory) == 1, message="record applied")
    phones = agent.components.extras["ble"]
    async with httpx.AsyncClient(base_url=agent.base_url, timeout=10) as client:
        headers = await staff_headers(client, agent.components.config)
        async with StaffStream(client, headers) as stream:
            phones.walk_in(credential(record), Walk(approach_s=1.0, door_s=2.0, inside_s=2))  # type: ignore[attr-defined]
            phones.walk_in(None, Walk(approach_s=1.0, door_s=2.0, inside_s=2))  # type: ignore[attr-defined]  # a stranger
            await eventually(lambda: bool(stream.of("arrival")), message="arrival alert")
            (alert,) = stream.of("arrival")
            assert alert["customer_id"] == "c-00001" and alert["via"] == "ble"
            assert alert["display_name"] == "Customer 1"
            assert alert["profile"]["tier"] == "gold" and alert["profile"]["visits"] == 0
            r = await client.post(f"/api/v1/alerts/{alert['alert_id']}/ack", headers=headers)
            assert r.status_code == 200 and r.json()["taken_by"] == "tablet-1"
            await eventually(lambda: bool(stream.of("alert_acked")), message="ack on all tablets")
    ledger = central.ledger("test-01")
    await eventually(lambda: bool(ledger.events_of_type("visit.arrived")), message="visit up")
    (arrived,) = ledger.events_of_type("visit.arrived")
    assert arrived["data"]["customer_id"] == "c-00001" and arrived["data"]["via"] == "ble"
    await eventually(lambda: bool(ledger.events_of_type("visit.left")), timeout=15, message="left")
    assert ledger.events_of_type("visit.left")[0]["data"]["dwell_s"] >= 0
    metrics = agent.components.metrics.registry
    assert (
        metrics.get_sample_value("retail_edge_readings_dropped_total", {"kind": "ble"}) or 0
    ) > 0


async def test_profile_only_with_staff_profile_consent_and_nfc_tap(
    broker: MosquittoBroker, central: CentralService, write_config, start_agent
) -> None:
    agent = await started(write_config, start_agent, broker)
    record = customer(2, staff_profile=False)
    central.publish_customer(record)
    await eventually(lambda: len(agent.components.recognition.directory) == 1, message="applied")
    reader = agent.components.extras["nfc"]
    async with httpx.AsyncClient(base_url=agent.base_url, timeout=10) as client:
        headers = await staff_headers(client, agent.components.config)
        async with StaffStream(client, headers) as stream:
            reader.tap(record["credentials"]["nfc_uids"][0])  # type: ignore[attr-defined]
            reader.tap("04DEADBEEF0000")  # type: ignore[attr-defined]  # an unknown card
            await eventually(lambda: bool(stream.of("arrival")), message="tap alert")
            (alert,) = stream.of("arrival")
            assert alert["via"] == "nfc" and "profile" not in alert
            # A second tap while present opens the profile again: same visit, a new alert.
            reader.tap(record["credentials"]["nfc_uids"][0])  # type: ignore[attr-defined]
            await eventually(lambda: len(stream.of("arrival")) == 2, message="second tap")
            r = await client.post(
                "/api/v1/customers/c-00002/notes", json={"text": "x"}, headers=headers
            )
            assert r.status_code == 404  # no staff-profile consent: no notes either


async def test_proxy_messages_and_app_checkins_recognise(
    broker: MosquittoBroker, central: CentralService, write_config, start_agent
) -> None:
    extra = DEVICES.replace('adapter = "simulated"', 'adapter = "mqtt-proxy"', 1)
    agent = await started(write_config, start_agent, broker, extra)
    a, b = customer(3), customer(4)
    central.publish_customer(a)
    central.publish_customer(b)
    await eventually(lambda: len(agent.components.recognition.directory) == 2, message="applied")
    await asyncio.sleep(0.3)  # the proxy adapter's own subscription
    c = credential(a)
    now = agent.components.clock.now().timestamp()
    eid = compute_eid(c.identity_key, c.rotation_exponent, int(now) - c.epoch)
    message = {
        "id": "7A:11:22:33:44:55", "rssi": -58, "servicedatauuid": "0xfeaa",
        "servicedata": eid_service_data(-20, eid).hex(), "name": "", "brand": "GENERIC",
    }  # fmt: skip
    async with aiomqtt.Client("127.0.0.1", broker.port) as client:
        for _ in range(8):  # as mosquitto_pub would, from an ESP32 at the door
            await client.publish("home/door-esp32/BTtoMQTT/7A1122334455", json.dumps(message))
            await asyncio.sleep(0.15)
        await client.publish("home/door-esp32/BTtoMQTT/x", b"{garbage")
        fresh = {"customer_id": "c-00004", "at": rfc3339(agent.components.clock.now())}
        stale = {"customer_id": "c-00004", "at": "2020-01-01T00:00:00Z"}
        await client.publish("retail/v1/stores/test-01/checkins", json.dumps(stale), qos=1)
        await client.publish("retail/v1/stores/test-01/checkins", json.dumps(fresh), qos=1)
    ledger = central.ledger("test-01")
    await eventually(lambda: len(ledger.events_of_type("visit.arrived")) == 2, message="2 visits")
    via = {
        e["data"]["customer_id"]: e["data"]["via"] for e in ledger.events_of_type("visit.arrived")
    }
    assert via == {"c-00003": "ble", "c-00004": "app"}
    metrics = agent.components.metrics.registry
    assert (
        metrics.get_sample_value("retail_edge_readings_dropped_total", {"kind": "app_stale"}) == 1
    )
    assert (
        metrics.get_sample_value(
            "retail_edge_malformed_inputs_dropped_total", {"source": "proxy_malformed"}
        )
        == 1
    )
    # /metrics tells how many advertisements arrived, by what became of them.
    topic = "mqtt-proxy:home/+/BTtoMQTT/#"
    for outcome, expected in (("eid", 8), ("malformed", 1), ("not_eid", 0)):
        labels = {"source": topic, "outcome": outcome}
        assert metrics.get_sample_value("retail_edge_ble_advertisements_total", labels) == expected


async def test_erase_withdraws_alerts_deletes_visits_and_reports(
    broker: MosquittoBroker, central: CentralService, write_config, start_agent
) -> None:
    agent = await started(write_config, start_agent, broker)
    record = customer(5)
    record["display_name"] = "Zoé Unforgettable"
    central.publish_customer(record)
    await eventually(lambda: len(agent.components.recognition.directory) == 1, message="applied")
    reader = agent.components.extras["nfc"]
    async with httpx.AsyncClient(base_url=agent.base_url, timeout=10) as client:
        headers = await staff_headers(client, agent.components.config)
        async with StaffStream(client, headers) as stream:
            reader.tap(record["credentials"]["nfc_uids"][0])  # type: ignore[attr-defined]
            await eventually(lambda: bool(stream.of("arrival")), message="arrival")
            alert_id = stream.of("arrival")[0]["alert_id"]
            loop = asyncio.get_running_loop()
            erased_at = loop.time()
            central.publish_customer({"op": "erase", "customer_id": "c-00005", "version": 2})
            await eventually(lambda: bool(stream.of("alert_withdrawn")), message="withdrawn")
            assert loop.time() - erased_at < 1.0
            assert stream.of("alert_withdrawn")[0]["alert_id"] == alert_id
    ledger = central.ledger("test-01")
    await eventually(lambda: bool(ledger.events_of_type("privacy.erased")), message="erased")
    (erased,) = ledger.events_of_type("privacy.erased")
    # the customer row, the visit and the alert
    assert erased["data"] == {"customer_id": "c-00005", "records_deleted": 3}
    components = agent.components
    components.runner.call(
        lambda: components.database.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    )
    data = components.config.storage.path.read_bytes()
    assert "Zoé Unforgettable".encode() not in data
    assert record["credentials"]["nfc_uids"][0].encode() not in data
