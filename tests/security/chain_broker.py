"""A chain-style broker for security tests: one CA, a certificate per store and one for the
central service, and a real mosquitto configured from the shipped example files
(docs/examples/mosquitto-tls.conf and mosquitto-acl.conf)."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiomqtt
import paho.mqtt.client as paho
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID
from paho.mqtt.enums import CallbackAPIVersion

from agent.config.loader import load_config
from agent.config.model import AgentConfig
from simulators.mosquitto import MosquittoBroker
from tests.tls import _ca, _leaf, _write_key

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
PREFIX = "retail/v1"
CENTRAL = "central.service"  # the central service's certificate CN (see the ACL example)
# What the TLS example must keep saying; a docs edit that drops one fails the tests.
REQUIRED_TLS_LINES = (
    "require_certificate true",
    "use_identity_as_username true",
    "use_username_as_clientid true",
    "allow_anonymous false",
)


@dataclass(frozen=True)
class ChainPki:
    directory: Path
    ca_cert: Path
    server_cert: Path
    server_key: Path
    names: tuple[str, ...]
    other_ca_cert: Path  # a CA the broker does not trust, with a client certificate of its own

    def cert(self, name: str) -> Path:
        return self.directory / f"{name}.pem"

    def key(self, name: str) -> Path:
        return self.directory / f"{name}.key"

    def context(self, name: str | None) -> ssl.SSLContext:
        """A client TLS context trusting the chain CA, presenting ``name``'s certificate."""
        context = ssl.create_default_context(cafile=str(self.ca_cert))
        if name is not None:
            context.load_cert_chain(str(self.cert(name)), str(self.key(name)))
        return context


def make_chain_pki(directory: Path, names: tuple[str, ...]) -> ChainPki:
    directory.mkdir(parents=True, exist_ok=True)
    pem = serialization.Encoding.PEM
    ca = _ca("retail-edge chain test CA")
    stranger_ca = _ca("not the chain's CA")

    def write(
        name: str,
        issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey],
        usage: x509.ObjectIdentifier,
    ) -> None:
        cert, key = _leaf(name, issuer, usage)
        (directory / f"{name}.pem").write_bytes(cert.public_bytes(pem))
        _write_key(key, directory / f"{name}.key")

    (directory / "ca.pem").write_bytes(ca[0].public_bytes(pem))
    (directory / "other-ca.pem").write_bytes(stranger_ca[0].public_bytes(pem))
    write("broker", ca, ExtendedKeyUsageOID.SERVER_AUTH)
    for name in names:
        write(name, ca, ExtendedKeyUsageOID.CLIENT_AUTH)
    # A certificate that claims to be a store but was signed by someone else's CA.
    write("impostor", stranger_ca, ExtendedKeyUsageOID.CLIENT_AUTH)
    return ChainPki(
        directory=directory,
        ca_cert=directory / "ca.pem",
        server_cert=directory / "broker.pem",
        server_key=directory / "broker.key",
        names=names,
        other_ca_cert=directory / "other-ca.pem",
    )


def example_tls_config(pki: ChainPki, acl_file: Path) -> str:
    """docs/examples/mosquitto-tls.conf with the test's paths. MosquittoBroker writes its own
    loopback listener first, so the example's `listener` line is left out."""
    paths = {
        "cafile": pki.ca_cert,
        "certfile": pki.server_cert,
        "keyfile": pki.server_key,
        "acl_file": acl_file,
    }
    lines = []
    for raw in (EXAMPLES / "mosquitto-tls.conf").read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition(" ")
        if key in ("listener", "per_listener_settings"):
            continue
        lines.append(f"{key} {paths.get(key, value)}")
    missing = [line for line in REQUIRED_TLS_LINES if line not in lines]
    assert not missing, f"docs/examples/mosquitto-tls.conf no longer has {missing}"
    return "\n".join(lines)


def start_chain_broker(workdir: Path, pki: ChainPki) -> MosquittoBroker:
    workdir.mkdir(parents=True, exist_ok=True)
    acl = workdir / "acl.conf"
    shutil.copyfile(EXAMPLES / "mosquitto-acl.conf", acl)
    broker = MosquittoBroker(
        workdir=workdir, persistence=False, extra_config=example_tls_config(pki, acl)
    )
    broker.start()
    return broker


def store_config(
    directory: Path, broker: MosquittoBroker, pki: ChainPki, store: str
) -> AgentConfig:
    """A real agent config for ``store`` that connects with ``store``'s certificate."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "agent.toml"
    path.write_text(
        "\n".join(
            [
                "[store]",
                f'id = "{store}"',
                f'name = "Store {store}"',
                'timezone = "Europe/Paris"',
                "[storage]",
                f'path = "{directory / "agent.db"}"',
                "[http]",
                'bind = "127.0.0.1"',
                "port = 0",
                'public_url = "http://127.0.0.1:8080"',
                "[mqtt]",
                f'url = "mqtts://127.0.0.1:{broker.port}"',
                f'topic_prefix = "{PREFIX}"',
                f'ca_file = "{pki.ca_cert}"',
                f'client_cert = "{pki.cert(store)}"',
                f'client_key = "{pki.key(store)}"',
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    return load_config(path)


@dataclass
class Peer:
    """An MQTT client under one identity that records every message it receives."""

    client: aiomqtt.Client
    received: list[tuple[str, bytes]] = field(default_factory=list)

    def payloads(self, topic: str | None = None) -> list[bytes]:
        return [p for t, p in self.received if topic is None or t == topic]

    def topics(self) -> set[str]:
        return {t for t, _ in self.received}


@contextlib.asynccontextmanager
async def peer(
    broker: MosquittoBroker,
    pki: ChainPki,
    name: str,
    *filters: str,
    v5: bool = True,
    identifier: str | None = None,
) -> AsyncIterator[Peer]:
    client = aiomqtt.Client(
        "127.0.0.1",
        broker.port,
        identifier=identifier or f"test-{name}",
        protocol=aiomqtt.ProtocolVersion.V5 if v5 else aiomqtt.ProtocolVersion.V311,
        tls_context=pki.context(name),
        timeout=10,
    )
    async with client:
        found = Peer(client)
        for topic_filter in filters:
            await client.subscribe(topic_filter, qos=1)

        async def collect() -> None:
            async for message in client.messages:
                payload = message.payload if isinstance(message.payload, bytes) else b""
                found.received.append((message.topic.value, payload))

        task = asyncio.create_task(collect())
        try:
            yield found
        finally:
            task.cancel()
            # A peer the broker disconnected (a takeover) ends with an MqttError instead.
            with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                await task


def publish_as(
    broker: MosquittoBroker,
    pki: ChainPki,
    name: str,
    messages: list[tuple[str, bytes, bool]],
    *,
    v5: bool,
) -> list[int]:
    """Connect as ``name`` (plain paho, blocking: run it in a thread), publish each
    ``(topic, payload, retain)`` at QoS 1 and return the broker's PUBACK reason codes
    (0 = success, 135 = not authorized; MQTT 3.1.1 has no reason codes, always 0)."""
    client = paho.Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"publisher-{name}",
        protocol=paho.MQTTv5 if v5 else paho.MQTTv311,
    )
    client.tls_set_context(pki.context(name))
    codes: dict[int, int] = {}

    def on_publish(_c: object, _u: object, mid: int, reason: object, _p: object) -> None:
        codes[mid] = int(getattr(reason, "value", 0))

    client.on_publish = on_publish
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    try:
        infos = [client.publish(t, p, qos=1, retain=r) for t, p, r in messages]
        for info in infos:
            info.wait_for_publish(timeout=10)
        return [codes[info.mid] for info in infos]
    finally:
        client.disconnect()
        client.loop_stop()
