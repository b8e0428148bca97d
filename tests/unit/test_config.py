"""Config: the contract example loads; every problem is one line naming file and key."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from agent.config.loader import load_config
from agent.config.model import (
    BleBleakDevice,
    BleMqttProxyDevice,
    FootfallGpioDevice,
    FootfallMqttDevice,
    NfcDevice,
    QrCameraDevice,
    SimulatedBleDevice,
    SimulatedFootfallDevice,
    SimulatedNfcDevice,
    SimulatedQrCameraDevice,
)
from agent.core.presence import PresenceSettings
from agent.errors import ConfigError

DATA = Path(__file__).parent.parent / "data"
PASS_KEY = base64.b64encode(bytes(range(32))).decode()


def contract_example(tmp_path: Path) -> Path:
    (tmp_path / "mqtt.pass").write_text("s3cret\n")
    text = (DATA / "contract-example.toml").read_text()
    path = tmp_path / "store.toml"
    path.write_text(text.replace("{dir}", str(tmp_path)).replace("{pass_key}", PASS_KEY))
    return path


def problems_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return info.value.problems


def test_contract_example_loads(tmp_path: Path) -> None:
    config = load_config(contract_example(tmp_path))
    assert config.store.id == "paris-01"
    assert config.http.public_url == "https://paris-01.example.com"
    assert config.mqtt is not None
    assert (config.mqtt.host, config.mqtt.port, config.mqtt.tls) == (
        "broker.example.com",
        8883,
        True,
    )
    assert config.mqtt.username == "paris-01"
    assert config.mqtt.password_file == tmp_path / "mqtt.pass"
    assert [q.id for q in config.queues] == ["advice"]
    assert config.recognition.pass_public_key == bytes(range(32))
    assert config.occupancy.capacity == 40
    # Each entry becomes the class of its kind and adapter, with its defaults filled in.
    broker = "mqtt://127.0.0.1:1883"
    assert config.devices == (
        BleBleakDevice(index=0),
        BleMqttProxyDevice(index=1, url=broker, topic="home/+/BTtoMQTT/#"),
        QrCameraDevice(index=2, source="0", decoder="zxing"),
        NfcDevice(index=3, path="usb"),
        FootfallMqttDevice(
            index=4,
            door="main",
            url=broker,
            in_topic="footfall-main/sensor/people_in/state",
            out_topic="footfall-main/sensor/people_out/state",
        ),
    )
    assert [(d.kind, d.adapter) for d in config.devices][:2] == [
        ("ble", "bleak"),
        ("ble", "mqtt-proxy"),
    ]


def test_gpio_and_simulated_entries_become_their_classes(tmp_path: Path) -> None:
    path = contract_example(tmp_path)
    extra = "".join(
        f'\n[[devices]]\nkind = "{kind}"\nadapter = "{adapter}"\n{keys}'
        for kind, adapter, keys in [
            ("footfall", "gpio", 'door = "side"\nouter_pin = "GPIO17"\ninner_pin = "GPIO27"\n'),
            ("footfall", "simulated", ""),
            ("ble", "simulated", ""),
            ("nfc", "simulated", ""),
            ("qr-camera", "simulated", ""),
        ]
    )
    path.write_text(path.read_text() + extra)
    assert load_config(path).devices[5:] == (
        FootfallGpioDevice(index=5, door="side", outer_pin="GPIO17", inner_pin="GPIO27"),
        SimulatedFootfallDevice(index=6, door="main"),
        SimulatedBleDevice(index=7),
        SimulatedNfcDevice(index=8),
        SimulatedQrCameraDevice(index=9),
    )


def test_presence_rules_default_to_the_cores(tmp_path: Path) -> None:
    # One source of truth: a [recognition] table that sets only the threshold, and a config
    # without the table, both leave the arrive/leave rules at PresenceSettings' defaults.
    path = contract_example(tmp_path)
    with_table = load_config(path).recognition.presence
    assert with_table == PresenceSettings(door_rssi_dbm=-75)
    text = path.read_text()
    start, end = text.index("[recognition]"), text.index("[occupancy]")
    path.write_text(text[:start] + text[end:])
    assert load_config(path).recognition.presence == PresenceSettings()
    path.write_text(text.replace("door_rssi_dbm = -75", "door_rssi_dbm = -60\nleave_after_s = 30"))
    changed = load_config(path).recognition.presence
    assert (changed.door_rssi_dbm, changed.leave_after_s) == (-60, 30.0)
    assert changed.arrive_after_s == PresenceSettings().arrive_after_s


def test_secrets_do_not_appear_in_the_config_repr(tmp_path: Path) -> None:
    config = load_config(contract_example(tmp_path))
    assert "s3cret" not in repr(config)
    assert "password_file" not in repr(config.mqtt)


def test_defaults_fill_optional_device_keys(tmp_path: Path) -> None:
    path = contract_example(tmp_path)
    text = path.read_text().replace('topic = "home/+/BTtoMQTT/#"', "")
    text = text.replace('in_topic = "footfall-main/sensor/people_in/state"', "")
    path.write_text(text)
    config = load_config(path)
    assert config.devices[1].topic == "home/+/BTtoMQTT/#"
    assert config.devices[4].in_topic == "footfall-main/sensor/people_in/state"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ('id = "paris-01"', 'id = "Paris 01"', "store.id: must match"),
        ('timezone = "Europe/Paris"', 'timezone = "Mars/Olympus"', "store.timezone: unknown"),
        ("port = 8080", "port = 70000", "http.port: must be at most 65535"),
        ("port = 8080", 'port = "8080"', "http.port: must be an integer"),
        (
            'url = "mqtts://broker.example.com:8883"',
            'url = "http://x"',
            "mqtt.url: must be mqtt://",
        ),
        ('window_token = "rotating"', 'window_token = "daily"', "queues.advice.window_token"),
        (
            "door_rssi_dbm = -75",
            "door_rssi_dbm = true",
            "recognition.door_rssi_dbm: must be an integer",
        ),
        ("capacity = 40", "capacity = 0", "occupancy.capacity: must be at least 1"),
        ('adapter = "bleak"', 'adapter = "bluez"', "devices[0].adapter: must be one of"),
        ('source = "0"', "", "devices[2].source: missing required key"),
        ('path = "usb"', 'path = "usb"\ncolour = "red"', "devices[3].colour: unknown key"),
        (
            'name = "Boutique Rivoli"',
            'name = "Boutique Rivoli"\nmanager = "x"',
            "store.manager: unknown key",
        ),
        ("[occupancy]", "[occupancy]\n[extras]", "extras: unknown key"),
    ],
)
def test_each_problem_names_file_and_key(tmp_path: Path, old: str, new: str, expected: str) -> None:
    path = contract_example(tmp_path)
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    problems = problems_of(path)
    assert any(line.startswith(f"{path}: ") and expected in line for line in problems), problems


def test_all_problems_are_reported_at_once(tmp_path: Path) -> None:
    path = contract_example(tmp_path)
    text = (
        path.read_text()
        .replace('id = "paris-01"', 'id = "BAD"')
        .replace("port = 8080", "port = -1")
    )
    path.write_text(text)
    problems = problems_of(path)
    assert len(problems) == 2
    assert "store.id" in problems[0] and "http.port" in problems[1]


def test_missing_secret_file_is_named(tmp_path: Path) -> None:
    path = contract_example(tmp_path)
    (tmp_path / "mqtt.pass").unlink()
    assert any("mqtt.password_file: file not found" in p for p in problems_of(path))


def test_bad_pass_key_is_named(tmp_path: Path) -> None:
    path = contract_example(tmp_path)
    path.write_text(path.read_text().replace(PASS_KEY, base64.b64encode(b"short").decode()))
    assert any(
        "recognition.pass_public_key: must decode to 32 bytes" in p for p in problems_of(path)
    )


def test_missing_required_tables(tmp_path: Path) -> None:
    path = tmp_path / "empty.toml"
    path.write_text("")
    problems = problems_of(path)
    for table in ("store", "storage", "http"):
        assert f"{path}: {table}: missing table" in problems


def test_invalid_toml_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("[store\nid=")
    problems = problems_of(path)
    assert len(problems) == 1 and problems[0].startswith(f"{path}: not valid TOML")


def test_unreadable_file(tmp_path: Path) -> None:
    problems = problems_of(tmp_path / "nope.toml")
    assert problems[0].startswith(f"{tmp_path / 'nope.toml'}: cannot read")


def test_mqtt_is_optional_and_its_absence_disables_sync(tmp_path: Path) -> None:
    path = contract_example(tmp_path)
    text = path.read_text()
    start, end = text.index("[mqtt]"), text.index("[queues.advice]")
    path.write_text(text[:start] + text[end:])
    assert load_config(path).mqtt is None


def test_a_password_put_in_password_file_is_not_printed_back(tmp_path: Path) -> None:
    path = contract_example(tmp_path)
    text = path.read_text()
    assert "password_file" in text
    lines = [
        'password_file = "S3cret-Hunter2"' if line.startswith("password_file") else line
        for line in text.splitlines()
    ]
    path.write_text("\n".join(lines) + "\n")
    problems = problems_of(path)
    assert any("mqtt.password_file: file not found" in p for p in problems)
    assert not any("S3cret" in p for p in problems)
