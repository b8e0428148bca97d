"""Check the device configs in firmware_configs/ against their schemas and the agent's config.

Each kind (door-node, ble-door-scanner, store-beacon, nfc-reader) has a JSON Schema in
`firmware_configs/schemas/<kind>.schema.json`, checked by `agent/config/schema_check.py` (a
subset of JSON Schema plus a few `x-` keywords for ESPHome's YAML tags and units). What a schema
cannot say is checked in Python: the topics a door node or a BLE scanner publishes on against
the `[[devices]]` entry that listens to them, the JSON fields the agent reads, and so on.

ESPHome files are read by `agent/config/esphome_yaml.py` the way ESPHome reads them, as far as
validation needs: any `!tag` (`!secret`, `!lambda`, ...) is kept as a Tagged value, and
`substitutions` are applied before checking. Every problem is one line `FILE: KEY: why`, like
the TOML loader's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from agent.config.esphome_yaml import FAILED, Tagged, load_yaml, substitute
from agent.config.model import (
    DEFAULT_PROXY_TOPIC,
    BleMqttProxyDevice,
    DeviceConfig,
    FootfallMqttDevice,
    NfcDevice,
)
from agent.config.reader import Problems
from agent.config.schema_check import TRUE_WORDS, check, describe, formatted, join

FIRMWARE_KINDS = ("door-node", "ble-door-scanner", "store-beacon", "nfc-reader")
SCHEMA_DIRS = (Path(__file__).resolve().parents[2] / "firmware_configs" / "schemas",)
BTTOMQTT_FIELDS = ("id", "rssi", "servicedatauuid", "servicedata")  # agent/core/bttomqtt.py
MIN_SCAN_DUTY = 0.5
ACR122U_BLACKLIST = ("pn533_usb", "pn533", "nfc")


def firmware_of(device: DeviceConfig) -> tuple[str, Path | None] | None:
    """The firmware kind a device's `firmware` key names, and the file it names if set;
    None for the adapters that take no `firmware` key (the host's own radio, simulations)."""
    match device:
        case FootfallMqttDevice(firmware=path):
            return "door-node", path
        case BleMqttProxyDevice(firmware=path):
            return "ble-door-scanner", path
        case NfcDevice(firmware=path):
            return "nfc-reader", path
        case _:
            return None


def validate_firmware(path: Path, kind: str, device: DeviceConfig | None = None) -> list[str]:
    """Problems in the firmware config at ``path`` (empty if none), one `FILE: KEY: why` each.

    With ``device`` (the `[[devices]]` entry that names this file) the file is also checked
    against it: the topics it publishes on, the reader path it declares.
    """
    problems = Problems(str(path))
    if kind not in FIRMWARE_KINDS:
        problems.add("kind", f"unknown firmware kind {kind!r}; one of {', '.join(FIRMWARE_KINDS)}")
        return problems.lines
    schema = _schema(kind, path, problems)
    doc = load_yaml(path, problems)
    if schema is None or doc is FAILED:
        return problems.lines
    if not isinstance(doc, dict):
        problems.lines.append(f"{path}: must be a YAML mapping, got {describe(doc)}")
        return problems.lines
    doc = substitute(doc, problems)
    check(doc, schema, "", problems)
    _CROSS_CHECKS[kind](doc, problems, device)
    return problems.lines


# --- loading -------------------------------------------------------------------------------


def _schema(kind: str, path: Path, problems: Problems) -> dict[str, Any] | None:
    """The agent's own schema when it has one, else the one shipped beside the file."""
    for folder in (*SCHEMA_DIRS, path.parent / "schemas"):
        candidate = folder / f"{kind}.schema.json"
        if candidate.is_file():
            try:
                schema: dict[str, Any] = json.loads(candidate.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                problems.lines.append(f"{path}: cannot check: bad schema {candidate}: {exc}")
                return None
            return schema
    folders = ", ".join(str(folder) for folder in (*SCHEMA_DIRS, path.parent / "schemas"))
    problems.lines.append(f"{path}: cannot check: no {kind}.schema.json in {folders}")
    return None


# --- cross-checks a schema cannot express --------------------------------------------------


def _items(doc: Mapping[Any, Any], name: str) -> Iterator[tuple[int, dict[Any, Any]]]:
    value = doc.get(name)
    for index, item in enumerate(value if isinstance(value, list) else []):
        if isinstance(item, dict):
            yield index, item


def _table(doc: Mapping[Any, Any], name: str) -> dict[Any, Any]:
    value = doc.get(name)
    return value if isinstance(value, dict) else {}


def _code(value: object) -> str:
    return value.value if isinstance(value, Tagged) else str(value or "")


def object_id(name: str) -> str:
    """ESPHome's object id for an entity name (lower case, spaces and symbols to `_`)."""
    return re.sub(r"[^a-z0-9_-]", "_", name.replace(" ", "_").lower())


def _door_node(doc: dict[Any, Any], problems: Problems, device: DeviceConfig | None) -> None:
    mqtt, esphome = _table(doc, "mqtt"), _table(doc, "esphome")
    prefix = str(mqtt.get("topic_prefix") or esphome.get("name") or "")
    published: list[tuple[int, str, str, bool]] = []  # index, object id, topic, custom topic
    for index, sensor in _items(doc, "sensor"):
        if sensor.get("internal") is True or "name" not in sensor:
            continue
        oid = object_id(str(sensor["name"]))
        custom = isinstance(sensor.get("state_topic"), str)
        topic = sensor["state_topic"] if custom else f"{prefix}/sensor/{oid}/state"
        published.append((index, oid, topic, custom))
    match device:
        case FootfallMqttDevice(index=index, in_topic=in_topic, out_topic=out_topic):
            wanted = {"in": in_topic, "out": out_topic}
            where = f"devices[{index}].{{}}_topic"
        case _:  # checked on its own: the topics the agent listens on by default
            wanted = {d: f"{prefix}/sensor/people_{d}/state" for d in ("in", "out")}
            where = "the agent's default {}_topic"
    for direction, want in wanted.items():
        found = [p for p in published if p[2] == want]
        if not found:
            key, why = _topic_mismatch(want, published, prefix)
            problems.add(key, f"{why}; {where.format(direction)} is {want!r}")
        for index, _, _, _ in found:
            _counter_sensor(doc, index, problems)
    beams = [(i, b) for i, b in _items(doc, "binary_sensor") if b.get("platform") == "gpio"]
    if len(beams) < 2:
        problems.add("binary_sensor", f"needs two gpio beams (outer, inner), found {len(beams)}")
    pins: dict[str, int] = {}
    for index, beam in beams:
        pin = beam.get("pin")
        number = str(pin.get("number") if isinstance(pin, dict) else pin)
        if number in pins:
            problems.add(
                f"binary_sensor[{index}].pin",
                f"{number} is binary_sensor[{pins[number]}]'s pin too",
            )
        pins.setdefault(number, index)


def _topic_mismatch(
    want: str, published: list[tuple[int, str, str, bool]], prefix: str
) -> tuple[str, str]:
    topics = ", ".join(repr(p[2]) for p in published) or "nothing"
    match = re.fullmatch(r"(.+)/sensor/([^/]+)/state", want)
    if match is None:
        return "sensor", f"no sensor has this state_topic (the node publishes {topics})"
    for index, oid, topic, custom in published:
        if oid == match[2]:
            key = f"sensor[{index}].state_topic" if custom else "mqtt.topic_prefix"
            return key, f"sensor[{index}] ({oid}) publishes on {topic!r}"
    return (
        "sensor",
        f"no sensor named {match[2]!r} under prefix {prefix!r} (the node publishes {topics})",
    )


def _counter_sensor(doc: dict[Any, Any], index: int, problems: Problems) -> None:
    sensor = doc["sensor"][index]
    if sensor.get("retain") in (False, "false"):
        problems.add(f"sensor[{index}].retain", "must stay true: the agent reads the last count")
    ids = set(re.findall(r"id\(\s*(\w+)\s*\)", _code(sensor.get("lambda"))))
    for g_index, variable in _items(doc, "globals"):
        restored = str(variable.get("restore_value", "false")).lower() in TRUE_WORDS
        if variable.get("id") in ids and restored:
            problems.add(
                f"globals[{g_index}].restore_value",
                "must be false: a node's counters count from 0 when it boots (contract §2)",
            )


def _actions(value: object, key: str, name: str) -> Iterator[tuple[str, dict[Any, Any]]]:
    """Every `name:` action (e.g. mqtt.publish_json) nested anywhere under ``value``."""
    if isinstance(value, dict):
        for k, v in value.items():
            if k == name and isinstance(v, dict):
                yield join(key, str(k)), v
            else:
                yield from _actions(v, join(key, str(k)), name)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _actions(v, f"{key}[{i}]", name)


def _scanner(doc: dict[Any, Any], problems: Problems, device: DeviceConfig | None) -> None:
    tracker = doc.get("esp32_ble_tracker")
    if not isinstance(tracker, dict):
        return
    params = tracker.get("scan_parameters")
    if isinstance(params, dict):
        interval = formatted(params.get("interval", "320ms"), "duration")
        window = formatted(params.get("window", "30ms"), "duration")
        if isinstance(interval, float) and isinstance(window, float) and interval > 0:
            if window > interval:
                problems.add("esp32_ble_tracker.scan_parameters.window", "must not exceed interval")
            elif window / interval < MIN_SCAN_DUTY:
                problems.add(
                    "esp32_ble_tracker.scan_parameters.window",
                    f"listens {window:g} ms of every {interval:g} ms; at least"
                    f" {MIN_SCAN_DUTY:.0%} is needed not to miss phones at the door",
                )
    base = "esp32_ble_tracker.on_ble_advertise"
    actions = list(_actions(tracker.get("on_ble_advertise"), base, "mqtt.publish_json"))
    if not actions:
        problems.add(base, "no mqtt.publish_json action: nothing would reach the agent")
    topic_filter, where = _proxy_filter(device)
    for key, action in actions:
        topic = _publish_topic(action.get("topic"))
        if topic is None:
            problems.add(
                f"{key}.topic",
                'cannot tell the topic: write it as "home/<gateway>/BTtoMQTT/" + <mac>',
            )
        elif not topic_matches(topic_filter, topic):
            problems.add(
                f"{key}.topic", f"publishes on {topic!r}, not matched by {where} {topic_filter!r}"
            )
        payload = _code(action.get("payload"))
        for field in BTTOMQTT_FIELDS:
            if not re.search(rf'root\[\s*"{field}"\s*\]', payload):
                problems.add(
                    f"{key}.payload",
                    f"never sets {field!r} (the agent reads {', '.join(BTTOMQTT_FIELDS)})",
                )
        if str(action.get("retain", "false")).lower() in TRUE_WORDS:
            problems.add(
                f"{key}.retain",
                "must be false: a retained message per phone address would pile up on the broker",
            )


def _proxy_filter(device: DeviceConfig | None) -> tuple[str, str]:
    """The topic filter the agent subscribes the scanners with, and where it is set."""
    match device:
        case BleMqttProxyDevice(index=index, topic=topic_filter):
            return topic_filter, f"devices[{index}].topic"
        case _:
            return DEFAULT_PROXY_TOPIC, "the default topic"


def _publish_topic(topic: object) -> str | None:
    """The topic a publish action uses for one MAC, e.g. home/gw/BTtoMQTT/AABBCCDDEEFF."""
    if isinstance(topic, str):
        return topic
    literals = re.findall(r'"((?:[^"\\]|\\.)*)"', _code(topic))
    for literal in literals:
        if literal.endswith("/"):
            return f"{literal}AABBCCDDEEFF"
    return None


def topic_matches(topic_filter: str, topic: str) -> bool:
    """MQTT filter matching with `+` (one level) and `#` (the rest)."""
    wanted, parts = topic_filter.split("/"), topic.split("/")
    for index, level in enumerate(wanted):
        if level == "#":
            return True
        if index >= len(parts) or level not in ("+", parts[index]):
            return False
    return len(parts) == len(wanted)


def _beacon(doc: dict[Any, Any], problems: Problems, device: DeviceConfig | None) -> None:
    beacon = doc.get("esp32_ble_beacon")
    if not isinstance(beacon, dict):
        return
    low = formatted(beacon.get("min_interval", "100ms"), "duration")
    high = formatted(beacon.get("max_interval", "100ms"), "duration")
    if isinstance(low, float) and isinstance(high, float) and low > high:
        problems.add("esp32_ble_beacon.min_interval", "must not exceed max_interval")


def _nfc(doc: dict[Any, Any], problems: Problems, device: DeviceConfig | None) -> None:
    reader, path = doc.get("reader"), doc.get("path")
    if not isinstance(path, str):
        return  # the schema has said what is wrong with it
    if reader == "pn532-i2c":
        problems.add(
            "reader",
            "nfcpy cannot drive a PN532 over I2C: set the board's switches to "
            "HSU (UART) and use reader: pn532-uart, path: tty:S0:pn532",
        )
    elif reader == "acr122u":
        if not re.fullmatch(r"usb(:072f(:2200)?|:\d{3}(:\d{3})?)?", path):
            problems.add("path", f"an ACR122U is on USB: use usb:072f:2200, got {path!r}")
        listed = doc.get("kernel_module_blacklist")
        listed = listed if isinstance(listed, list) else []
        missing = [m for m in ACR122U_BLACKLIST if m not in listed]
        if missing:
            problems.add(
                "kernel_module_blacklist",
                f"must list {', '.join(missing)}: the "
                "kernel's pn533_usb driver claims an ACR122U before nfcpy can",
            )
    elif reader == "pn532-uart" and not re.fullmatch(r"(tty|com):[A-Za-z0-9]+:pn532", path):
        problems.add(
            "path", f"a PN532 on a UART is tty:<port>:pn532 (e.g. tty:S0:pn532), got {path!r}"
        )
    match device:
        case NfcDevice(index=index, path=opened) if opened != path:
            problems.add("path", f"is {path!r}, but devices[{index}].path opens {opened!r}")


_CROSS_CHECKS: dict[str, Callable[[dict[Any, Any], Problems, DeviceConfig | None], None]] = {
    "door-node": _door_node,
    "ble-door-scanner": _scanner,
    "store-beacon": _beacon,
    "nfc-reader": _nfc,
}
