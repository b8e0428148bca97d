"""Home Assistant MQTT discovery on a real broker: the configs and the queue states arrive
retained, every config holds to Home Assistant's documented MQTT sensor schema, and what each
sensor's template reads from its state topic is the agent's real value."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import aiomqtt
import httpx

from agent.config.loader import load_config
from simulators.mosquitto import MosquittoBroker
from tests.helpers import eventually
from tests.integration.queue_fixtures import QUEUES, join

# Home Assistant's MQTT sensor configuration variables (home-assistant.io/integrations/
# sensor.mqtt) and the discovery payload's shared keys (docs/mqtt discovery: device, origin),
# each with the abbreviation discovery accepts where there is one.
SENSOR_KEYS = {
    "availability": "avty", "availability_mode": "avty_mode", "availability_template": "avty_tpl",
    "availability_topic": "avty_t", "device": "dev", "device_class": "dev_cla",
    "enabled_by_default": "en", "encoding": "e", "entity_category": "ent_cat",
    "entity_picture": "ent_pic", "expire_after": "exp_aft", "force_update": "frc_upd",
    "icon": "ic", "json_attributes_template": "json_attr_tpl",
    "json_attributes_topic": "json_attr_t", "last_reset_value_template": "lrst_val_tpl",
    "name": "name", "object_id": "obj_id", "default_entity_id": "def_ent_id",
    "options": "ops", "payload_available": "pl_avail", "payload_not_available": "pl_not_avail",
    "qos": "qos", "state_class": "stat_cla", "state_topic": "stat_t",
    "suggested_display_precision": "sug_dsp_prc", "unique_id": "uniq_id",
    "unit_of_measurement": "unit_of_meas", "value_template": "val_tpl", "origin": "o",
}  # fmt: skip
DEVICE_KEYS = {
    "configuration_url": "cu", "connections": "cns", "hw_version": "hw", "identifiers": "ids",
    "manufacturer": "mf", "model": "mdl", "model_id": "mdl_id", "name": "name",
    "serial_number": "sn", "suggested_area": "sa", "sw_version": "sw", "via_device": "via_device",
}  # fmt: skip
ORIGIN_KEYS = {"name": "name", "sw_version": "sw", "support_url": "url"}
AVAILABILITY_KEYS = {"topic": "t", "payload_available": "pl_avail",
                     "payload_not_available": "pl_not_avail", "value_template": "val_tpl"}  # fmt: skip
# The sensor device classes whose units the entities here may use, and the state classes.
DURATION_UNITS = {"d", "h", "min", "s", "ms"}
STATE_CLASSES = {"measurement", "measurement_angle", "total", "total_increasing"}
DISCOVERY_TOPIC = re.compile(r"homeassistant/sensor/(?:[a-zA-Z0-9_-]+/)?[a-zA-Z0-9_-]+/config")
# The agent's templates are plain key reads; this test resolves exactly that form and fails
# on any other (so a richer template cannot pass unevaluated).
PLAIN_READ = re.compile(r"\{\{ value_json\.([a-z_]+) \}\}")

HOME_ASSISTANT = """
[home_assistant]
discovery = true

[occupancy]
capacity = 10
publish_min_interval_s = 0.1

[[devices]]
kind = "footfall"
adapter = "mqtt"
door = "main"
"""
PREFIX = "retail/v1/stores/test-01"


def full_keys(payload: dict[str, Any], table: dict[str, str], where: str) -> dict[str, Any]:
    """The payload with abbreviations spelled out; any key not in Home Assistant's table fails."""
    spelled = {abbreviation: key for key, abbreviation in table.items()} | {k: k for k in table}
    unknown = set(payload) - set(spelled)
    assert not unknown, f"{where}: keys Home Assistant does not document: {unknown}"
    return {spelled[key]: value for key, value in payload.items()}


def check_sensor_schema(topic: str, raw: dict[str, Any]) -> dict[str, Any]:
    assert DISCOVERY_TOPIC.fullmatch(topic), topic
    config = full_keys(raw, SENSOR_KEYS, topic)
    assert isinstance(config["state_topic"], str) and config["state_topic"]  # required
    assert "#" not in config["state_topic"] and "+" not in config["state_topic"]
    assert isinstance(config["unique_id"], str) and config["unique_id"]
    device = full_keys(config["device"], DEVICE_KEYS, f"{topic} device")
    assert device.get("identifiers") or device.get("connections"), "a device needs an id"
    full_keys(config["origin"], ORIGIN_KEYS, f"{topic} origin")
    assert config["origin"]["name"]  # origin's one required key
    assert "availability_topic" not in config or "availability" not in config  # not both
    for entry in config.get("availability", []):
        assert full_keys(entry, AVAILABILITY_KEYS, f"{topic} availability")["topic"]
    device_class = config.get("device_class")
    if device_class == "enum":
        # An enum sensor lists its options and has neither unit nor state class.
        assert config["options"] and all(isinstance(o, str) for o in config["options"])
        assert "unit_of_measurement" not in config and "state_class" not in config
    elif device_class == "duration":
        assert config["unit_of_measurement"] in DURATION_UNITS
    else:
        assert device_class is None, f"{topic}: unchecked device class {device_class}"
        assert "options" not in config
    if "state_class" in config:
        assert config["state_class"] in STATE_CLASSES
    return config


def read(template: str, payload: dict[str, Any]) -> object:
    match = PLAIN_READ.fullmatch(template)
    assert match, f"not a plain value_json read: {template!r}"
    return payload[match[1]]


async def retained_messages(broker: MosquittoBroker, wanted: int) -> dict[str, aiomqtt.Message]:
    """What a newly started Home Assistant would find: every retained message it subscribes to."""
    found: dict[str, aiomqtt.Message] = {}
    async with aiomqtt.Client("127.0.0.1", broker.port) as client:
        await client.subscribe("homeassistant/#", qos=1)
        await client.subscribe(f"{PREFIX}/#", qos=1)
        async with asyncio.timeout(5):
            async for message in client.messages:
                if message.retain:
                    found[message.topic.value] = message
                if len([t for t in found if t.startswith("homeassistant/")]) >= wanted:
                    break
        await asyncio.sleep(0.2)  # the state topics arrive in the same burst
        while True:
            try:
                async with asyncio.timeout(0.2):
                    message = await anext(aiter(client.messages))
            except TimeoutError:
                break
            if message.retain:
                found[message.topic.value] = message
    return found


async def publish_count(broker: MosquittoBroker, value: bytes) -> None:
    async with aiomqtt.Client("127.0.0.1", broker.port) as client:
        await client.publish("footfall-main/sensor/people_in/state", value, qos=1, retain=True)


async def test_discovery_configs_and_states_arrive_retained_and_match(
    broker: MosquittoBroker, write_config, start_agent
) -> None:
    config = load_config(
        write_config(broker.url, extra=QUEUES.format(max_waiting=50) + HOME_ASSISTANT)
    )
    agent = await start_agent(config)
    assert agent.components.link is not None
    await asyncio.wait_for(agent.components.link.connected.wait(), 10)
    await asyncio.sleep(0.3)  # the door counter's subscription
    await publish_count(broker, b"3")
    async with httpx.AsyncClient(base_url=agent.base_url) as client:
        await join(client, agent, "advice")
        await join(client, agent, "advice")
    await eventually(lambda: agent.components.footfall.occupancy.inside == 3, message="3 in")
    queues = agent.components.queues
    advice, pickup = queues.summary("advice").eta, queues.summary("pickup").eta
    expected: dict[str, object] = {
        "occupancy": 3,
        "busy_level": "quiet",
        "capacity": 10,
        "queue_advice_waiting": 2,
        "queue_advice_wait": (advice.low_s + advice.high_s) // 2,
        "queue_pickup_waiting": 0,
        "queue_pickup_wait": (pickup.low_s + pickup.high_s) // 2,
    }
    node = "retail-edge-test-01"

    async def values() -> tuple[dict[str, object], dict[str, aiomqtt.Message]]:
        messages = await retained_messages(broker, len(expected))
        seen: dict[str, object] = {}
        for topic, message in messages.items():
            if not topic.startswith("homeassistant/"):
                continue
            assert isinstance(message.payload, bytes)
            sensor = check_sensor_schema(topic, json.loads(message.payload))
            object_id = topic.split("/")[3]
            assert sensor["unique_id"] == f"{node}_{object_id}"
            state = messages.get(sensor["state_topic"])
            if state is not None:
                assert isinstance(state.payload, bytes)
                seen[object_id] = read(sensor["value_template"], json.loads(state.payload))
        return seen, messages

    for _ in range(30):  # the retained states may trail the join by a publish or two
        seen, messages = await values()
        if seen == expected:
            break
        await asyncio.sleep(0.2)
    assert seen == expected
    configs = {t: m for t, m in messages.items() if t.startswith("homeassistant/")}
    assert set(configs) == {f"homeassistant/sensor/{node}/{o}/config" for o in expected}
    assert all(m.retain for m in messages.values())
    unique_ids = {json.loads(m.payload)["unique_id"] for m in configs.values()}  # type: ignore[arg-type]
    assert len(unique_ids) == len(configs)
    # Availability: the agent's status topic, read through the config's own template.
    some = json.loads(next(iter(configs.values())).payload)  # type: ignore[arg-type]
    (availability,) = some["availability"]
    status = json.loads(messages[availability["topic"]].payload)  # type: ignore[arg-type]
    assert read(availability["value_template"], status) == availability["payload_available"]
    state = json.loads(messages[f"{PREFIX}/queues/advice/state"].payload)  # type: ignore[arg-type]
    assert state["waiting"] == 2 and state["label"] == "Conseil / Advice"
    assert state["wait_low_s"] <= state["wait_s"] <= state["wait_high_s"]


def test_discovery_needs_the_mqtt_table(write_config) -> None:
    import pytest

    from agent.errors import ConfigError

    with pytest.raises(ConfigError) as caught:
        load_config(write_config(extra="[home_assistant]\ndiscovery = true\n"))
    assert any(
        "home_assistant.discovery: needs an [mqtt] table" in line for line in caught.value.problems
    ), caught.value.problems
