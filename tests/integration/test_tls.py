"""mqtts:// with CA verification and a client certificate, against mosquitto with TLS."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.config.loader import load_config
from simulators.mosquitto import MosquittoBroker
from tests.helpers import eventually
from tests.tls import Pki, make_pki


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path / "pki")


@pytest.fixture
def tls_broker(tmp_path: Path, pki: Pki) -> Iterator[MosquittoBroker]:
    workdir = tmp_path / "mosquitto-tls"
    workdir.mkdir()
    broker = MosquittoBroker(
        workdir=workdir,
        extra_config="\n".join(
            [
                f"cafile {pki.ca_cert}",
                f"certfile {pki.server_cert}",
                f"keyfile {pki.server_key}",
                "require_certificate true",
                "use_identity_as_username true",
            ]
        ),
    )
    broker.start()
    yield broker
    broker.close()


def tls_config(write_config, broker: MosquittoBroker, ca: Path, pki: Pki):  # type: ignore[no-untyped-def]
    path = write_config(
        f"mqtts://127.0.0.1:{broker.port}",
        ca_file=str(ca),
        client_cert=str(pki.client_cert),
        client_key=str(pki.client_key),
    )
    return load_config(path)


async def test_connects_with_a_verified_server_and_a_client_certificate(
    tls_broker: MosquittoBroker, pki: Pki, write_config, start_agent
) -> None:
    agent = await start_agent(tls_config(write_config, tls_broker, pki.ca_cert, pki))
    link = agent.components.link
    assert link is not None
    await asyncio.wait_for(link.connected.wait(), 10)
    # agent.started went out and the broker acknowledged it over TLS.
    await eventually(lambda: agent.components.outbox.stats().depth == 0, message="drained")


async def test_refuses_a_server_its_ca_did_not_sign(
    tls_broker: MosquittoBroker, pki: Pki, write_config, start_agent
) -> None:
    agent = await start_agent(tls_config(write_config, tls_broker, pki.other_ca_cert, pki))
    metrics = agent.components.metrics.registry
    await eventually(
        lambda: (metrics.get_sample_value("retail_edge_mqtt_connect_failures_total") or 0) >= 1,
        message="a failed TLS handshake",
    )
    assert agent.components.link is not None
    assert not agent.components.link.connected.is_set()
    assert agent.components.outbox.stats().depth == 1  # nothing was sent, nothing lost
