"""MQTT over TLS with client certificates and per-store ACLs, against a real mosquitto
configured from the shipped examples (docs/examples/mosquitto-tls.conf, mosquitto-acl.conf).

Each store's certificate CN is its store id; the ACL lets it write only its own branch and
read only what is addressed to it. These tests show the real agent working under those rules,
and a client holding store A's identity failing to forge into, read from, or take over store B.
"""

from __future__ import annotations

import asyncio
import json
import random
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import aiomqtt
import pytest

from agent.config.model import AgentConfig
from simulators.customers import demo_customer, demo_playbook
from simulators.mosquitto import MosquittoBroker
from tests.helpers import eventually
from tests.security.chain_broker import (
    CENTRAL,
    PREFIX,
    ChainPki,
    make_chain_pki,
    peer,
    publish_as,
    start_chain_broker,
    store_config,
)

A, B = "store-a", "store-b"
NOT_AUTHORIZED = 135  # MQTT 5 reason code


@pytest.fixture
def pki(tmp_path: Path) -> ChainPki:
    return make_chain_pki(tmp_path / "pki", (A, B, CENTRAL))


@pytest.fixture
def chain_broker(tmp_path: Path, pki: ChainPki) -> Iterator[MosquittoBroker]:
    broker = start_chain_broker(tmp_path / "mosquitto", pki)
    try:
        yield broker
    finally:
        broker.close()


def config(tmp_path: Path, broker: MosquittoBroker, pki: ChainPki, store: str) -> AgentConfig:
    return store_config(tmp_path / store, broker, pki, store)


def events_of(payloads: list[bytes]) -> list[dict[str, object]]:
    found: list[dict[str, object]] = []
    for payload in payloads:
        doc = json.loads(payload)
        found.extend(doc if isinstance(doc, list) else [doc])
    return found


async def test_a_store_delivers_its_events_and_reads_the_chain_records(
    tmp_path: Path, chain_broker: MosquittoBroker, pki: ChainPki, start_agent
) -> None:
    events_a = f"{PREFIX}/stores/{A}/events"
    async with peer(chain_broker, pki, CENTRAL, f"{PREFIX}/stores/+/#") as central:
        agent = await start_agent(config(tmp_path, chain_broker, pki, A))
        link = agent.components.link
        assert link is not None
        await asyncio.wait_for(link.connected.wait(), 10)
        await eventually(lambda: agent.components.outbox.stats().depth == 0, message="drained")
        await eventually(lambda: bool(central.payloads(events_a)), message="events at central")
        assert [e["type"] for e in events_of(central.payloads(events_a))] == ["agent.started"]
        assert all(e["store"] == A for e in events_of(central.payloads(events_a)))
        status = json.loads(central.payloads(f"{PREFIX}/stores/{A}/status")[-1])
        assert status["state"] == "online"
        # The read side of the ACL: the store receives the chain's customer records.
        record = demo_customer(random.Random(1), 1)
        await central.client.publish(
            f"{PREFIX}/chain/customers/{record['customer_id']}",
            json.dumps(record),
            qos=1,
            retain=True,
        )
        directory = agent.components.recognition.directory
        await eventually(lambda: len(directory) == 1, message="customer record applied")
        # ... and the chain's suggestion playbook (extension, docs/suggestions.md).
        await central.client.publish(
            f"{PREFIX}/chain/playbook", json.dumps(demo_playbook(7)), qos=1, retain=True
        )
        suggestions = agent.components.suggestions
        await eventually(lambda: suggestions.playbook.version == 7, message="playbook applied")


@pytest.mark.parametrize("v5", [True, False], ids=["mqtt5", "mqtt311"])
async def test_a_store_cannot_publish_into_another_stores_topics(
    chain_broker: MosquittoBroker, pki: ChainPki, v5: bool
) -> None:
    forged_checkin = json.dumps({"customer_id": "c-forged", "at": "2030-01-01T00:00:00Z"})
    legit_checkin = json.dumps({"customer_id": "c-legit", "at": "2030-01-01T00:00:00Z"})
    forged_event = json.dumps({"id": "forged", "store": B, "seq": 1, "type": "queue.joined"})
    forgeries = [
        (f"{PREFIX}/stores/{B}/checkins", forged_checkin.encode(), False),
        (f"{PREFIX}/stores/{B}/resend", b'{"from_seq": 1}', False),
        (f"{PREFIX}/stores/{B}/events", forged_event.encode(), False),
        (f"{PREFIX}/stores/{B}/status", b'{"state":"offline"}', True),
        (f"{PREFIX}/stores/{B}/occupancy", b'{"occupancy":999}', True),
        (f"{PREFIX}/chain/customers/c-forged", b'{"op":"erase"}', True),
    ]
    own = [(f"{PREFIX}/stores/{A}/events", b'{"id":"mine"}', False)]
    everything = f"{PREFIX}/#"
    async with (
        peer(chain_broker, pki, B, f"{PREFIX}/stores/{B}/#", everything, v5=v5) as store_b,
        peer(chain_broker, pki, CENTRAL, everything, v5=v5) as central,
    ):
        codes = await asyncio.to_thread(publish_as, chain_broker, pki, A, forgeries + own, v5=v5)
        if v5:
            # MQTT 5: the broker says so in each PUBACK; the store's own topic is accepted.
            assert codes == [NOT_AUTHORIZED] * len(forgeries) + [0]
        else:
            # MQTT 3.1.1 has no way to say it: acknowledged, then silently dropped.
            assert codes == [0] * (len(forgeries) + 1)
        # The forgeries were acknowledged before these legitimate messages were even sent, so
        # anything the broker routed from them would have arrived before these.
        await central.client.publish(f"{PREFIX}/stores/{B}/checkins", legit_checkin, qos=1)
        await eventually(lambda: bool(store_b.received), message="the legitimate check-in")
        await eventually(
            lambda: f"{PREFIX}/stores/{A}/events" in central.topics(), message="A's own event"
        )
        await eventually(
            lambda: f"{PREFIX}/stores/{B}/checkins" in central.topics(), message="marker"
        )
        assert [p for _, p in store_b.received] == [legit_checkin.encode()] * len(store_b.received)
        forged_payloads = {payload for _, payload, _ in forgeries}
        assert not forged_payloads & set(central.payloads())
    # Nothing forged was kept as a retained message either.
    async with peer(chain_broker, pki, CENTRAL, everything) as late:
        await late.client.publish(f"{PREFIX}/stores/{A}/marker", b"end", qos=1)
        await eventually(lambda: b"end" in late.payloads(), message="marker")
        assert not forged_payloads & set(late.payloads())


async def test_a_store_cannot_read_another_stores_events(
    tmp_path: Path, chain_broker: MosquittoBroker, pki: ChainPki, start_agent
) -> None:
    events_b = f"{PREFIX}/stores/{B}/events"
    snooping = (f"{PREFIX}/stores/{B}/#", f"{PREFIX}/stores/+/events", f"{PREFIX}/#", "#")
    async with (
        peer(chain_broker, pki, CENTRAL, f"{PREFIX}/stores/+/#") as central,
        peer(chain_broker, pki, A, *snooping) as snoop,
    ):
        agent_b = await start_agent(config(tmp_path, chain_broker, pki, B))
        await eventually(lambda: bool(central.payloads(events_b)), message="B's events")
        await eventually(lambda: agent_b.components.outbox.stats().depth == 0, message="drained")
        # A marker A may read, sent after B's events reached the broker: when it arrives, B's
        # events would have arrived before it, had the broker let A read them.
        await central.client.publish(f"{PREFIX}/chain/customers/c-marker", b"{}", qos=1)
        await eventually(lambda: bool(snoop.received), message="the marker")
        assert snoop.topics() == {f"{PREFIX}/chain/customers/c-marker"}


async def test_a_store_cannot_take_over_another_stores_session(
    tmp_path: Path, chain_broker: MosquittoBroker, pki: ChainPki, start_agent
) -> None:
    agent_b = await start_agent(config(tmp_path, chain_broker, pki, B))
    link = agent_b.components.link
    assert link is not None
    await asyncio.wait_for(link.connected.wait(), 10)
    metrics = agent_b.components.metrics.registry

    def connects() -> float:
        return metrics.get_sample_value("retail_edge_mqtt_connects_total") or 0

    assert connects() == 1
    mqtt = agent_b.components.config.mqtt
    assert mqtt is not None
    # Store A connects under B's client id: the broker replaces it with A's own username,
    # so B's connection and persistent session are untouched.
    async with peer(chain_broker, pki, A, identifier=mqtt.client_id) as intruder:
        await intruder.client.publish(f"{PREFIX}/stores/{A}/events", b"{}", qos=1)
        await asyncio.sleep(0.5)
        assert link.connected.is_set() and connects() == 1
    # Control: a second connection with B's own certificate does replace B's (so the check
    # above would have seen a takeover); the agent then reconnects by itself.
    async with peer(chain_broker, pki, B):
        await eventually(lambda: connects() >= 2 or not link.connected.is_set(), message="kick")
    await eventually(link.connected.is_set, message="B reconnected")


@pytest.mark.parametrize(
    ("who", "broker_says"),
    [
        (None, "TLSV13_ALERT_CERTIFICATE_REQUIRED"),
        ("impostor", "TLSV1_ALERT_UNKNOWN_CA"),  # signed by another CA
    ],
    ids=["no certificate", "another CA's certificate"],
)
async def test_clients_without_a_chain_certificate_are_refused(
    chain_broker: MosquittoBroker, pki: ChainPki, who: str | None, broker_says: str
) -> None:
    context = ssl.create_default_context(cafile=str(pki.ca_cert))
    if who is not None:
        context.load_cert_chain(str(pki.cert(who)), str(pki.key(who)))
    # A generous client timeout: on a loaded machine a 2 s one could give up inside the TLS
    # handshake.
    client = aiomqtt.Client("127.0.0.1", chain_broker.port, tls_context=context, timeout=4)
    with pytest.raises(aiomqtt.MqttError):
        async with client:
            await client.publish(f"{PREFIX}/stores/{A}/events", b"{}", qos=1)
    # Why: the broker's TLS alert, as the client receives it. (Not mosquitto's log: in a fresh
    # Debian root it once wrote no line for a certificate it refused.)
    assert await asyncio.to_thread(tls_verdict, chain_broker.port, context) == broker_says
    # Control: the same connection with a chain certificate goes through.
    async with peer(chain_broker, pki, A) as store_a:
        await store_a.client.publish(f"{PREFIX}/stores/{A}/events", b"{}", qos=1)


async def test_events_the_broker_refuses_stay_in_the_outbox(
    tmp_path: Path, chain_broker: MosquittoBroker, pki: ChainPki, start_agent
) -> None:
    """A store whose certificate does not match its store id (a deployment mistake): the
    ACL refuses its events with MQTT 5 reason code 0x87, and they must not count as sent."""
    from agent.config.loader import load_config

    path = config(tmp_path, chain_broker, pki, A).source
    path.write_text(path.read_text().replace(f'id = "{A}"', 'id = "store-c"'))
    agent = await start_agent(load_config(path))
    metrics = agent.components.metrics.registry
    await eventually(
        lambda: (metrics.get_sample_value("retail_edge_mqtt_publish_refused_total") or 0) >= 1,
        timeout=15,
        message="the refusal is seen",
    )
    await agent.components.uow.record([])  # nothing new; what was refused must still be there
    stats = agent.components.outbox.stats()
    assert stats.depth >= 1 and stats.oldest_seq == 1  # agent.started, kept for a retry


def tls_verdict(port: int, context: ssl.SSLContext) -> str:
    """The reason of the TLS alert the broker answers this client with, or "accepted". With
    TLS 1.3 the client's handshake ends before the server has checked the client's
    certificate, so the alert comes with the first read."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        try:
            with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                tls.recv(1)
        except ssl.SSLError as exc:
            return exc.reason or str(exc)
    return "accepted"
