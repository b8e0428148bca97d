"""The NATS path: agents' MQTT into nats-server's MQTT listener, a JetStream stream over the
converted subjects, a durable consumer shared by the ingest processes, on a 3-node cluster."""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from simulators.nats_cluster import NatsCluster
from tests.central.support import event, metric, query, running_ingest
from tests.helpers import eventually

P = "retail/v1"


@pytest.fixture
def cluster(tmp_path) -> Iterator[NatsCluster]:
    instance = NatsCluster(3, workdir=tmp_path / "nats")
    instance.start()
    try:
        yield instance
    finally:
        instance.close()


def mqtt311(port: int) -> paho.Client:
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="pub", protocol=paho.MQTTv311)
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


async def test_events_through_the_cluster_are_stored_once(cluster: NatsCluster, pg: str) -> None:
    options = {"broker": cluster.nats_url, "dsn": pg, "group": "central-test", "replicas": 3}
    async with running_ingest(**options) as ingest:
        client = mqtt311(cluster.nodes[1].mqtt_port)
        sent = [event("s-1", seq) for seq in range(1, 6)]
        infos = [client.publish(f"{P}/stores/s-1/events", json.dumps(sent[0]), qos=1)]
        infos.append(client.publish(f"{P}/stores/s-1/events", json.dumps(sent[1:]), qos=1))
        infos.append(client.publish(f"{P}/stores/s-1/events", json.dumps(sent[0]), qos=1))
        infos.append(client.publish(f"{P}/stores/s-1/events", b"{nope", qos=1))
        for info in infos:
            info.wait_for_publish(timeout=10)
        await eventually(
            lambda: metric(ingest, "central_event_duplicates_total") == 1,
            timeout=20,
            message="the repeat counted",
        )
        rows = query(pg, "SELECT seq, id FROM retail_events ORDER BY seq")
        assert rows == [(e["seq"], e["id"]) for e in sent]
        assert metric(ingest, "central_malformed_dropped_total", {"reason": "not_json"}) == 1
        client.disconnect()
        client.loop_stop()


async def test_events_the_stream_lost_are_asked_for_over_nats_and_resent(
    cluster: NatsCluster, pg: str, write_config, start_agent
) -> None:
    """The stream loses what it had stored (purged, as a lost unreplicated node would): the
    watcher asks the agent over core NATS, the agent's MQTT subscription gets it, it resends."""
    import nats

    from agent.core.events import AgentStarted
    from central.nats_source import stream_name
    from tests.helpers import config_for

    node = cluster.nodes[0]
    options = {
        "broker": cluster.nats_url,
        "dsn": pg,
        "group": "central-test",
        "replicas": 3,
        "resend_after_s": 1.0,
        "watch_interval_s": 0.2,
    }
    agent = await start_agent(config_for(write_config, node.mqtt_url))
    async with running_ingest(**options):
        await eventually(
            lambda: query(pg, "SELECT count(*) FROM retail_events")[0][0] == 1,
            timeout=20,
            message="agent.started in the table",
        )
    await agent.components.uow.record([AgentStarted(f"lost-{i}") for i in range(30)])
    outbox = agent.components.outbox
    await eventually(lambda: outbox.stats().depth == 0, message="the broker acknowledged them")
    nc = await nats.connect(f"nats://{node.nats_address}")
    try:
        js = nc.jetstream()
        info = await js.stream_info(stream_name(P))
        assert info.state.messages >= 2  # agent.started, then the 30 (one array or several)
        await js.purge_stream(stream_name(P))
    finally:
        await nc.close()
    async with running_ingest(**options) as ingest:
        await agent.components.uow.record([AgentStarted("after")])
        await eventually(
            lambda: query(pg, "SELECT contiguous_seq FROM retail_store_progress")[0][0] == 32,
            timeout=30,
            message="the purged events resent and stored",
        )
        assert metric(ingest, "central_resend_requests_total") >= 1
        versions = [
            r[0]
            for r in query(
                pg,
                "SELECT data->>'version' FROM retail_events WHERE seq BETWEEN 2 AND 31 ORDER BY seq",
            )
        ]
        assert versions == [f"lost-{i}" for i in range(30)]


async def test_a_tls_nats_url_is_verified_against_the_ca_file(tmp_path, pg: str) -> None:
    """`tls://` with `--ca-file`: events flow over TLS; a server whose certificate another CA
    signed is refused (the ingest never connects), not trusted."""
    from simulators.nats import NatsMqttBroker
    from tests.tls import make_pki

    pki = make_pki(tmp_path / "pki")
    (tmp_path / "nats").mkdir()
    broker = NatsMqttBroker(tmp_path / "nats", tls=(pki.server_cert, pki.server_key))
    broker.start()
    try:
        assert broker.nats_url.startswith("tls://")
        options = {"broker": broker.nats_url, "dsn": pg, "group": "tls-test"}
        async with running_ingest(**options, ca_file=str(pki.ca_cert)):
            client = mqtt311(broker.port)
            client.publish(f"{P}/stores/s-tls/events", json.dumps(event("s-tls", 1)), qos=1)
            await eventually(
                lambda: query(pg, "SELECT count(*) FROM retail_events")[0][0] == 1,
                timeout=20,
                message="the event stored through a TLS connection",
            )
            client.disconnect()
            client.loop_stop()
        with pytest.raises(ssl.SSLCertVerificationError):
            async with running_ingest(**options, ca_file=str(pki.other_ca_cert)):
                pass
    finally:
        broker.close()
