"""Firmware configs: every shipped file passes; every kind of mistake is one precise line.

Each mistake is made by editing a copy of the shipped file, so the tests also pin what the
shipped files say (an edit that no longer applies fails loudly rather than testing nothing).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.config.firmware import (
    FIRMWARE_KINDS,
    firmware_of,
    object_id,
    topic_matches,
    validate_firmware,
)
from agent.config.loader import DEVICE_KEYS, load_config
from agent.config.model import BleMqttProxyDevice, FootfallMqttDevice, NfcDevice
from agent.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
FIRMWARE = ROOT / "firmware_configs"


def edited(tmp_path: Path, kind: str, *edits: tuple[str, str]) -> Path:
    """A copy of the shipped `kind` file with each (old, new) replaced exactly once."""
    text = (FIRMWARE / f"{kind}.yaml").read_text()
    for old, new in edits:
        assert text.count(old) == 1, f"{old!r} is not exactly once in {kind}.yaml"
        text = text.replace(old, new)
    path = tmp_path / f"{kind}.yaml"
    path.write_text(text)
    return path


def door_device(**overrides: str) -> FootfallMqttDevice:
    values = {
        "door": "main",
        "url": "mqtt://127.0.0.1:1883",
        "in_topic": "footfall-main/sensor/people_in/state",
        "out_topic": "footfall-main/sensor/people_out/state",
    } | overrides
    return FootfallMqttDevice(index=3, **values)


def scanner_device(topic: str = "home/+/BTtoMQTT/#") -> BleMqttProxyDevice:
    return BleMqttProxyDevice(index=1, url="mqtt://127.0.0.1:1883", topic=topic)


def nfc_device(path: str = "usb:072f:2200") -> NfcDevice:
    return NfcDevice(index=2, path=path)


# --- the shipped files ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", FIRMWARE_KINDS)
def test_every_shipped_file_validates(kind: str) -> None:
    assert validate_firmware(FIRMWARE / f"{kind}.yaml", kind) == []


def test_every_kind_has_a_schema_and_a_shipped_file() -> None:
    for kind in FIRMWARE_KINDS:
        assert (FIRMWARE / "schemas" / f"{kind}.schema.json").is_file()
        assert (FIRMWARE / f"{kind}.yaml").is_file()


def test_shipped_files_match_their_default_device_entries() -> None:
    assert validate_firmware(FIRMWARE / "door-node.yaml", "door-node", door_device()) == []
    scanner = FIRMWARE / "ble-door-scanner.yaml"
    assert validate_firmware(scanner, "ble-door-scanner", scanner_device()) == []
    narrow = scanner_device("home/door-main-scanner/BTtoMQTT/+")
    assert validate_firmware(scanner, "ble-door-scanner", narrow) == []
    assert validate_firmware(FIRMWARE / "nfc-reader.yaml", "nfc-reader", nfc_device()) == []


def test_secrets_example_names_every_secret_the_esphome_files_use() -> None:
    example = (FIRMWARE / "secrets.yaml.example").read_text()
    for kind in ("door-node", "ble-door-scanner", "store-beacon"):
        text = (FIRMWARE / f"{kind}.yaml").read_text()
        for word in text.split("!secret ")[1:]:
            assert f"{word.split()[0]}:" in example


def test_a_substitution_changes_the_topics_everywhere(tmp_path: Path) -> None:
    path = edited(tmp_path, "door-node", ("  door: main ", "  door: side "))
    side = door_device(
        in_topic="footfall-side/sensor/people_in/state",
        out_topic="footfall-side/sensor/people_out/state",
    )
    assert validate_firmware(path, "door-node", side) == []


# --- wrong topics --------------------------------------------------------------------------


def test_door_node_prefix_that_does_not_produce_the_device_topics(tmp_path: Path) -> None:
    path = edited(tmp_path, "door-node", ("topic_prefix: ${node_name}", "topic_prefix: door-1"))
    assert validate_firmware(path, "door-node", door_device()) == [
        (
            f"{path}: mqtt.topic_prefix: sensor[0] (people_in) publishes on "
            "'door-1/sensor/people_in/state'; devices[3].in_topic is "
            "'footfall-main/sensor/people_in/state'"
        ),
        (
            f"{path}: mqtt.topic_prefix: sensor[1] (people_out) publishes on "
            "'door-1/sensor/people_out/state'; devices[3].out_topic is "
            "'footfall-main/sensor/people_out/state'"
        ),
    ]


def test_door_node_sensor_named_otherwise(tmp_path: Path) -> None:
    path = edited(tmp_path, "door-node", ("name: people_out", "name: People leaving"))
    assert validate_firmware(path, "door-node", door_device()) == [
        (
            f"{path}: sensor: no sensor named 'people_out' under prefix 'footfall-main' (the node "
            "publishes 'footfall-main/sensor/people_in/state', "
            "'footfall-main/sensor/people_leaving/state'); devices[3].out_topic is "
            "'footfall-main/sensor/people_out/state'"
        )
    ]


def test_door_node_checked_against_a_device_listening_elsewhere() -> None:
    device = door_device(in_topic="shop/in", out_topic="footfall-main/sensor/people_out/state")
    assert validate_firmware(FIRMWARE / "door-node.yaml", "door-node", device) == [
        (
            f"{FIRMWARE / 'door-node.yaml'}: sensor: no sensor has this state_topic (the node "
            "publishes 'footfall-main/sensor/people_in/state', "
            "'footfall-main/sensor/people_out/state'); devices[3].in_topic is 'shop/in'"
        )
    ]


def test_door_node_custom_state_topic_is_honoured(tmp_path: Path) -> None:
    path = edited(
        tmp_path,
        "door-node",
        ("    name: people_in\n", "    name: people_in\n    state_topic: shop/in\n"),
    )
    assert validate_firmware(path, "door-node", door_device(in_topic="shop/in")) == []
    assert validate_firmware(path, "door-node", door_device()) == [
        (
            f"{path}: sensor[0].state_topic: sensor[0] (people_in) publishes on 'shop/in'; "
            "devices[3].in_topic is 'footfall-main/sensor/people_in/state'"
        )
    ]


def test_scanner_topic_outside_the_device_filter(tmp_path: Path) -> None:
    path = FIRMWARE / "ble-door-scanner.yaml"
    key = "esp32_ble_tracker.on_ble_advertise[0].then[0].if.then[0].mqtt.publish_json.topic"
    assert validate_firmware(path, "ble-door-scanner", scanner_device("store/+/ble/#")) == [
        (
            f"{path}: {key}: publishes on 'home/door-main-scanner/BTtoMQTT/AABBCCDDEEFF', not "
            "matched by devices[1].topic 'store/+/ble/#'"
        )
    ]
    moved = edited(
        tmp_path, "ble-door-scanner", ("proxy_topic: home/${gateway}/BTtoMQTT", "proxy_topic: ble")
    )
    assert validate_firmware(moved, "ble-door-scanner") == [
        (
            f"{moved}: {key}: publishes on 'ble/AABBCCDDEEFF', not matched by the default topic "
            "'home/+/BTtoMQTT/#'"
        )
    ]


def test_scanner_payload_missing_a_field_the_agent_reads(tmp_path: Path) -> None:
    path = edited(
        tmp_path, "ble-door-scanner", ('root["rssi"] = x.get_rssi();', "// rssi left out")
    )
    key = "esp32_ble_tracker.on_ble_advertise[0].then[0].if.then[0].mqtt.publish_json.payload"
    assert validate_firmware(path, "ble-door-scanner") == [
        f"{path}: {key}: never sets 'rssi' (the agent reads id, rssi, servicedatauuid, servicedata)"
    ]


def test_scanner_that_publishes_nothing(tmp_path: Path) -> None:
    path = edited(tmp_path, "ble-door-scanner", ("mqtt.publish_json:", "logger.log:"))
    assert validate_firmware(path, "ble-door-scanner") == [
        (
            f"{path}: esp32_ble_tracker.on_ble_advertise: no mqtt.publish_json action: nothing "
            "would reach the agent"
        )
    ]


# --- missing keys, wrong types, unknown keys -----------------------------------------------


def test_missing_key(tmp_path: Path) -> None:
    path = edited(tmp_path, "door-node", ("  discovery: false\n", ""))
    assert validate_firmware(path, "door-node") == [f"{path}: mqtt.discovery: missing required key"]
    nfc = edited(tmp_path, "nfc-reader", ("path: usb:072f:2200\n", ""))
    assert validate_firmware(nfc, "nfc-reader") == [f"{nfc}: path: missing required key"]


def test_wrong_type(tmp_path: Path) -> None:
    path = edited(tmp_path, "door-node", ('  mqtt_port: "1883"', "  mqtt_port: eighteen"))
    assert validate_firmware(path, "door-node") == [
        f"{path}: mqtt.port: must be an integer, got the string 'eighteen'"
    ]
    beacon = edited(tmp_path, "store-beacon", ('store_major: "1201"', 'store_major: "70000"'))
    assert validate_firmware(beacon, "store-beacon") == [
        f"{beacon}: esp32_ble_beacon.major: must be at most 65535, got 70000"
    ]
    power = edited(tmp_path, "store-beacon", ("tx_power: 3dBm", "tx_power: 4dBm"))
    assert validate_firmware(power, "store-beacon") == [
        f"{power}: esp32_ble_beacon.tx_power: must be one of -12, -9, -6, -3, 0, 3, 6, 9; got 4"
    ]


def test_unknown_key(tmp_path: Path) -> None:
    path = edited(
        tmp_path,
        "door-node",
        ("  discover_ip: false\n", "  discover_ip: false\n  topic_prefx: x\n"),
    )
    assert validate_firmware(path, "door-node") == [f"{path}: mqtt.topic_prefx: unknown key"]
    nfc = edited(tmp_path, "nfc-reader", ("reader: acr122u", "reader: acr122u\nreadr: pn532"))
    assert validate_firmware(nfc, "nfc-reader") == [f"{nfc}: readr: unknown key"]
    top = edited(tmp_path, "store-beacon", ("logger:\n", "bluetooth_proxy:\nlogger:\n"))
    assert validate_firmware(top, "store-beacon") == [f"{top}: bluetooth_proxy: unknown key"]


def test_wrong_value(tmp_path: Path) -> None:
    path = edited(tmp_path, "door-node", ("  discovery: false\n", "  discovery: true\n"))
    assert validate_firmware(path, "door-node") == [
        (
            f"{path}: mqtt.discovery: must be false, got true (no Home Assistant discovery "
            "messages on the store's broker)"
        )
    ]
    active = edited(tmp_path, "ble-door-scanner", ("active: false", "active: true"))
    assert validate_firmware(active, "ble-door-scanner") == [
        (
            f"{active}: esp32_ble_tracker.scan_parameters.active: must be false, got true (passive: "
            "Eddystone service data is in the advertisement; no scan requests to every phone)"
        )
    ]


def test_password_written_in_the_file(tmp_path: Path) -> None:
    path = edited(tmp_path, "door-node", ("password: !secret mqtt_password", "password: hunter2"))
    assert validate_firmware(path, "door-node") == [
        f"{path}: mqtt.password: must be a !secret (kept in secrets.yaml, not in this file)"
    ]


def test_undefined_substitution(tmp_path: Path) -> None:
    path = edited(tmp_path, "door-node", ("broker: ${mqtt_broker}", "broker: ${mqtt_brokr}"))
    assert validate_firmware(path, "door-node") == [
        f"{path}: mqtt.broker: uses ${{mqtt_brokr}}, which substitutions does not define"
    ]


def test_door_node_design_rules(tmp_path: Path) -> None:
    same_pin = edited(tmp_path, "door-node", ("number: ${inner_pin}", "number: ${outer_pin}"))
    assert validate_firmware(same_pin, "door-node") == [
        f"{same_pin}: binary_sensor[1].pin: GPIO25 is binary_sensor[0]'s pin too"
    ]
    restored = edited(
        tmp_path,
        "door-node",
        ("  - id: count_in\n    type: int\n    restore_value: false",
         "  - id: count_in\n    type: int\n    restore_value: true"),
    )  # fmt: skip
    assert validate_firmware(restored, "door-node") == [
        (
            f"{restored}: globals[0].restore_value: must be false: a node's counters count from 0 "
            "when it boots (contract §2)"
        )
    ]
    unretained = edited(
        tmp_path,
        "door-node",
        (
            "    retain: true\n    qos: 1\n  - platform: template",
            "    retain: false\n    qos: 1\n  - platform: template",
        ),
    )
    assert validate_firmware(unretained, "door-node") == [
        f"{unretained}: sensor[0].retain: must stay true: the agent reads the last count"
    ]


def test_scanner_that_listens_too_little(tmp_path: Path) -> None:
    path = edited(tmp_path, "ble-door-scanner", ("window: 300ms", "window: 30ms"))
    assert validate_firmware(path, "ble-door-scanner") == [
        (
            f"{path}: esp32_ble_tracker.scan_parameters.window: listens 30 ms of every 320 ms; at "
            "least 50% is needed not to miss phones at the door"
        )
    ]


def test_nfc_reader_rules(tmp_path: Path) -> None:
    no_blacklist = edited(tmp_path, "nfc-reader", ("  - pn533\n", ""))
    assert validate_firmware(no_blacklist, "nfc-reader") == [
        (
            f"{no_blacklist}: kernel_module_blacklist: must list pn533: the kernel's pn533_usb "
            "driver claims an ACR122U before nfcpy can"
        )
    ]
    i2c = edited(tmp_path, "nfc-reader", ("reader: acr122u", "reader: pn532-i2c"))
    assert validate_firmware(i2c, "nfc-reader") == [
        (
            f"{i2c}: reader: nfcpy cannot drive a PN532 over I2C: set the board's switches to HSU "
            "(UART) and use reader: pn532-uart, path: tty:S0:pn532"
        )
    ]
    uart = edited(
        tmp_path,
        "nfc-reader",
        ("reader: acr122u", "reader: pn532-uart"),
        ("path: usb:072f:2200", "path: tty:S0:pn532"),
    )
    assert validate_firmware(uart, "nfc-reader", nfc_device("tty:S0:pn532")) == []
    assert validate_firmware(uart, "nfc-reader", nfc_device("usb")) == [
        f"{uart}: path: is 'tty:S0:pn532', but devices[2].path opens 'usb'"
    ]


def test_files_that_are_not_config_at_all(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("mqtt: [\n")
    [line] = validate_firmware(broken, "door-node")
    assert line.startswith(f"{broken}: not valid YAML: ")
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing but a comment\n")
    assert validate_firmware(empty, "door-node") == [
        f"{empty}: must be a YAML mapping, got nothing"
    ]
    listed = tmp_path / "list.yaml"
    listed.write_text("- 1\n")
    assert validate_firmware(listed, "nfc-reader") == [
        f"{listed}: must be a YAML mapping, got a list"
    ]
    twice = tmp_path / "twice.yaml"
    twice.write_text(
        "reader: acr122u\npath: usb\npath: usb\nkernel_module_blacklist: [pn533_usb, pn533, nfc]\n"
    )
    assert validate_firmware(twice, "nfc-reader") == [f"{twice}: path: duplicate key (line 3)"]
    assert validate_firmware(tmp_path / "absent.yaml", "nfc-reader")[0].startswith(
        f"{tmp_path / 'absent.yaml'}: cannot read: "
    )
    assert validate_firmware(broken, "toaster") == [
        (
            f"{broken}: kind: unknown firmware kind 'toaster'; one of door-node, ble-door-scanner, "
            "store-beacon, nfc-reader"
        )
    ]


def test_helpers() -> None:
    assert object_id("People in") == "people_in"
    assert object_id("people-out (door 2)") == "people-out__door_2_"
    assert topic_matches("home/+/BTtoMQTT/#", "home/gw/BTtoMQTT/AABB")
    assert not topic_matches("home/+/BTtoMQTT/#", "home/BTtoMQTT/AABB")
    assert not topic_matches("home/+/BTtoMQTT/+", "home/gw/BTtoMQTT/AABB/x")


# --- through the agent's config --------------------------------------------------------------


def agent_config(tmp_path: Path, devices: str) -> Path:
    path = tmp_path / "agent.toml"
    path.write_text(
        f"""
[store]
id = "fw-01"
name = "Firmware store"
[storage]
path = "{tmp_path / "agent.db"}"
[http]
public_url = "http://127.0.0.1:8080"
[mqtt]
url = "mqtt://127.0.0.1:1883"
{devices}
"""
    )
    return path


ALL_DEVICES = """
[[devices]]
kind = "ble"
adapter = "mqtt-proxy"
firmware = "firmware_configs/ble-door-scanner.yaml"
[[devices]]
kind = "nfc"
adapter = "nfcpy"
path = "usb:072f:2200"
firmware = "firmware_configs/nfc-reader.yaml"
[[devices]]
kind = "footfall"
adapter = "mqtt"
door = "main"
firmware = "firmware_configs/door-node.yaml"
"""


def problems_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return info.value.problems


def copy_firmware(tmp_path: Path) -> Path:
    folder = tmp_path / "firmware_configs"
    folder.mkdir()
    for kind in FIRMWARE_KINDS:
        (folder / f"{kind}.yaml").write_text((FIRMWARE / f"{kind}.yaml").read_text())
    return folder


def test_config_referencing_the_shipped_files_loads(tmp_path: Path) -> None:
    folder = copy_firmware(tmp_path)
    config = load_config(agent_config(tmp_path, ALL_DEVICES))
    assert [d.firmware for d in config.devices] == [
        folder / "ble-door-scanner.yaml",
        folder / "nfc-reader.yaml",
        folder / "door-node.yaml",
    ]


def test_config_reports_firmware_problems_with_its_own(tmp_path: Path) -> None:
    folder = copy_firmware(tmp_path)
    door = folder / "door-node.yaml"
    door.write_text(door.read_text().replace("  door: main ", "  door: side "))
    devices = ALL_DEVICES.replace('path = "usb:072f:2200"\n', "") + 'colour = "red"\n'
    config = agent_config(tmp_path, devices)
    assert problems_of(config) == [
        f"{config}: devices[2].colour: unknown key",
        f"{folder / 'nfc-reader.yaml'}: path: is 'usb:072f:2200', but devices[1].path opens 'usb'",
        (
            f"{door}: mqtt.topic_prefix: sensor[0] (people_in) publishes on "
            "'footfall-side/sensor/people_in/state'; devices[2].in_topic is "
            "'footfall-main/sensor/people_in/state'"
        ),
        (
            f"{door}: mqtt.topic_prefix: sensor[1] (people_out) publishes on "
            "'footfall-side/sensor/people_out/state'; devices[2].out_topic is "
            "'footfall-main/sensor/people_out/state'"
        ),
    ]


def test_firmware_key_problems_in_the_agent_config(tmp_path: Path) -> None:
    config = agent_config(
        tmp_path,
        """
[[devices]]
kind = "footfall"
adapter = "gpio"
outer_pin = "GPIO17"
inner_pin = "GPIO27"
firmware = "door-node.yaml"
[[devices]]
kind = "footfall"
adapter = "mqtt"
firmware = "missing/door-node.yaml"
[[devices]]
kind = "nfc"
adapter = "nfcpy"
firmware = 3
""",
    )
    assert problems_of(config) == [
        f"{config}: devices[0].firmware: not used by kind='footfall' adapter='gpio'",
        f"{config}: devices[1].firmware: file not found: {tmp_path / 'missing' / 'door-node.yaml'}",
        f"{config}: devices[2].firmware: must be a string, got int 3",
    ]


def test_check_config_exits_1_naming_the_broken_door_node(tmp_path: Path) -> None:
    folder = copy_firmware(tmp_path)
    door = folder / "door-node.yaml"
    door.write_text(door.read_text().replace("  discovery: false\n", "  discovery: true\n"))
    config = agent_config(tmp_path, ALL_DEVICES)
    result = subprocess.run(
        [sys.executable, "-m", "agent", "check-config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        (
            f"{door}: mqtt.discovery: must be false, got true (no Home Assistant discovery messages "
            "on the store's broker)"
        )
    ]
    assert "Traceback" not in result.stderr
    door.write_text((FIRMWARE / "door-node.yaml").read_text())
    fixed = subprocess.run(
        [sys.executable, "-m", "agent", "check-config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert fixed.returncode == 0, fixed.stderr
    assert "OK" in fixed.stdout


# --- robustness ----------------------------------------------------------------------------

KEYS = st.sampled_from(
    [
        "mqtt", "sensor", "binary_sensor", "esphome", "esp32", "wifi", "globals", "name",
        "topic_prefix", "state_topic", "retain", "lambda", "pin", "number", "platform",
        "esp32_ble_tracker", "scan_parameters", "window", "interval", "on_ble_advertise", "then",
        "mqtt.publish_json", "topic", "payload", "esp32_ble_beacon", "min_interval", "reader",
        "path", "kernel_module_blacklist", "substitutions", "discovery", "port", "id",
    ]
)  # fmt: skip
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-70000, 70000), st.floats(allow_nan=False),
    st.sampled_from(["", "0", "320ms", "abc", "${x}", "$door", "usb", "tty:S0:pn532", "3dBm"]),
)  # fmt: skip
DOCUMENTS = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=5),
    max_leaves=25,
)


@settings(max_examples=150)
@given(doc=st.dictionaries(KEYS, DOCUMENTS, max_size=6), kind=st.sampled_from(FIRMWARE_KINDS))
def test_any_document_gives_problem_lines_never_an_exception(
    doc: dict[str, object], kind: str
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.yaml"
        path.write_text(yaml.safe_dump(doc))
        device = {"door-node": door_device(), "ble-door-scanner": scanner_device()}.get(kind)
        lines = validate_firmware(path, kind, device or nfc_device())
    assert all(line.startswith(f"{path}: ") and "\n" not in line for line in lines)


def test_every_adapter_taking_firmware_has_a_firmware_kind(tmp_path: Path) -> None:
    # One entry of every kind and adapter, with the keys each one requires.
    required = {"source": '"0"', "outer_pin": '"GPIO17"', "inner_pin": '"GPIO27"'}
    entries = [
        (kind, adapter, keys)
        for kind, adapters in DEVICE_KEYS.items()
        for adapter, keys in adapters.items()
    ]
    devices = "".join(
        f'[[devices]]\nkind = "{kind}"\nadapter = "{adapter}"\n'
        + "".join(f"{key} = {required[key]}\n" for key in keys if key in required)
        for kind, adapter, keys in entries
    )
    config = load_config(agent_config(tmp_path, devices))
    assert [(d.kind, d.adapter) for d in config.devices] == [(k, a) for k, a, _ in entries]
    for device, (_, _, keys) in zip(config.devices, entries, strict=True):
        found = firmware_of(device)
        assert (found is not None) == ("firmware" in keys), device
        assert found is None or found[0] in FIRMWARE_KINDS
