"""The device adapters that read the in-store broker (`mqtt-proxy` BLE, footfall `mqtt`) log in
as the main link does: username, password file, TLS against `ca_file`, a client certificate.
Checked against a mosquitto that requires all of them (tests/secure_broker.py)."""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Iterator
from pathlib import Path

import aiomqtt
import pytest

from agent.adapters.ble_mqtt_proxy import MqttProxyScanner
from agent.adapters.mqtt_subscriber import MqttSubscriberError
from agent.config.loader import load_config
from agent.config.model import BleMqttProxyDevice, FootfallMqttDevice
from agent.core.clock import SystemClock
from tests.helpers import eventually
from tests.secure_broker import USERNAME, SecureBroker, start_secure_broker

FOOTFALL_IN = "footfall-main/sensor/people_in/state"


@pytest.fixture
def secure(tmp_path: Path) -> Iterator[SecureBroker]:
    broker = start_secure_broker(tmp_path / "secure")
    yield broker
    broker.broker.close()


def device_entries(secure: SecureBroker, password_file: Path) -> str:
    login = "\n".join(
        [
            f'url = "{secure.url}"',
            f'username = "{USERNAME}"',
            f'password_file = "{password_file}"',
            f'ca_file = "{secure.pki.ca_cert}"',
            f'client_cert = "{secure.pki.client_cert}"',
            f'client_key = "{secure.pki.client_key}"',
        ]
    )
    return (
        '[[devices]]\nkind = "ble"\nadapter = "mqtt-proxy"\n'
        f"{login}\n"
        '[[devices]]\nkind = "footfall"\nadapter = "mqtt"\ndoor = "main"\n'
        f"{login}\n"
    )


async def publish_secure(secure: SecureBroker, topic: str, payload: bytes) -> None:
    context = ssl.create_default_context(cafile=str(secure.pki.ca_cert))
    context.load_cert_chain(str(secure.pki.client_cert), str(secure.pki.client_key))
    password = secure.password_file.read_text().strip()
    async with aiomqtt.Client(
        "127.0.0.1", secure.broker.port, username=USERNAME, password=password, tls_context=context
    ) as client:
        await client.publish(topic, payload, qos=1, retain=True)


async def test_footfall_counts_arrive_through_a_broker_with_tls_and_a_password(
    secure: SecureBroker, write_config, start_agent
) -> None:
    config = load_config(write_config(extra=device_entries(secure, secure.password_file)))
    footfall = next(d for d in config.devices if isinstance(d, FootfallMqttDevice))
    assert footfall.credentials.username == USERNAME
    assert footfall.credentials.ca_file == secure.pki.ca_cert
    agent = await start_agent(config)
    await publish_secure(secure, FOOTFALL_IN, b"3")
    await eventually(
        lambda: agent.components.footfall.occupancy.inside == 3,
        message="the door count read over mqtts:// with a password",
    )


async def test_the_ble_proxy_reads_over_tls_and_a_wrong_password_is_refused(
    secure: SecureBroker, write_config
) -> None:
    config = load_config(write_config(extra=device_entries(secure, secure.password_file)))
    proxy = next(d for d in config.devices if isinstance(d, BleMqttProxyDevice))
    counted: list[tuple[str, int]] = []

    def count(outcome: str, n: int) -> None:
        counted.append((outcome, n))

    scanner = MqttProxyScanner(
        proxy.url, proxy.topic, SystemClock(), count, credentials=proxy.credentials
    )
    frame = bytes([0x30, 0xEC]) + bytes(range(8))
    advert = {"id": "7A:11:22:33:44:55", "rssi": -58, "servicedatauuid": "0xfeaa"}
    advert["servicedata"] = frame.hex()
    async with scanner:
        await publish_secure(
            secure, "home/door-1/BTtoMQTT/7A1122334455", json.dumps(advert).encode()
        )
        sightings = scanner.readings()
        sighting = await asyncio.wait_for(anext(sightings), 10)
        await sightings.aclose()  # type: ignore[attr-defined]
    assert sighting.eid == bytes(range(8)) and sighting.rssi == -58
    assert sum(n for outcome, n in counted if outcome == "eid") >= 1, counted
    wrong = load_config(write_config(extra=device_entries(secure, secure.wrong_password_file)))
    proxy = next(d for d in wrong.devices if isinstance(d, BleMqttProxyDevice))
    refused = MqttProxyScanner(
        proxy.url, proxy.topic, SystemClock(), count, credentials=proxy.credentials
    )
    with pytest.raises(MqttSubscriberError, match="refused"):
        async with refused:
            pass


def test_tls_keys_need_an_mqtts_url(write_config, tmp_path: Path) -> None:
    from agent.errors import ConfigError

    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    entry = (
        '[[devices]]\nkind = "footfall"\nadapter = "mqtt"\n'
        f'url = "mqtt://127.0.0.1:1883"\nca_file = "{ca}"\n'
        '[[devices]]\nkind = "ble"\nadapter = "bleak"\nusername = "x"\n'
    )
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(extra=entry))
    problems = "\n".join(caught.value.problems)
    assert "devices[0].url: ca_file/client_cert need an mqtts:// URL" in problems
    assert "devices[1].username: not used by kind='ble' adapter='bleak'" in problems
