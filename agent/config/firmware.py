"""Check the device configs in firmware_configs/ against their schemas and the agent's config.

Each kind (door-node, ble-door-scanner, store-beacon, nfc-reader) has a JSON Schema in
`firmware_configs/schemas/<kind>.schema.json`, checked here by a small hand-written checker (a
subset of JSON Schema plus a few `x-` keywords for ESPHome's YAML tags and units). What a schema
cannot say is checked in Python: the topics a door node or a BLE scanner publishes on against
the `[[devices]]` entry that listens to them, the JSON fields the agent reads, and so on.

ESPHome files are read the way ESPHome reads them, as far as validation needs: any `!tag`
(`!secret`, `!lambda`, ...) is kept as a Tagged value, and `substitutions` are applied before
checking. Every problem is one line `FILE: KEY: why`, like the TOML loader's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Hashable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.config.reader import Problems

if TYPE_CHECKING:
    from agent.config.model import DeviceConfig

FIRMWARE_KINDS = ("door-node", "ble-door-scanner", "store-beacon", "nfc-reader")
# (device kind, adapter) -> the firmware kind its `firmware` key names.
KIND_FOR_DEVICE = {
    ("footfall", "mqtt"): "door-node",
    ("ble", "mqtt-proxy"): "ble-door-scanner",
    ("nfc", "nfcpy"): "nfc-reader",
}
SCHEMA_DIRS = (Path(__file__).resolve().parents[2] / "firmware_configs" / "schemas",)
DEFAULT_PROXY_FILTER = "home/+/BTtoMQTT/#"
BTTOMQTT_FIELDS = ("id", "rssi", "servicedatauuid", "servicedata")  # agent/core/bttomqtt.py
MIN_SCAN_DUTY = 0.5
ACR122U_BLACKLIST = ("pn533_usb", "pn533", "nfc")


@dataclass(frozen=True, slots=True)
class Tagged:
    """A YAML scalar with an ESPHome tag: `!secret wifi_password`, `!lambda "return x;"`."""

    tag: str
    value: str


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
    doc = _load_yaml(path, problems)
    if schema is None or doc is _FAILED:
        return problems.lines
    if not isinstance(doc, dict):
        problems.lines.append(f"{path}: must be a YAML mapping, got {_describe(doc)}")
        return problems.lines
    doc = _substitute(doc, problems)
    _check(doc, schema, "", problems)
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


_FAILED = object()  # the file could not be read as YAML (the problem is already recorded)


def _load_yaml(path: Path, problems: Problems) -> object:
    try:
        import yaml
    except ImportError:
        problems.lines.append(f"{path}: cannot check: PyYAML is not installed (pip install pyyaml)")
        return _FAILED

    class Loader(yaml.SafeLoader):
        """Safe YAML that keeps ESPHome's tags and refuses duplicate keys."""

    def tagged(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Tagged:
        value = loader.construct_scalar(node) if isinstance(node, yaml.ScalarNode) else ""
        return Tagged(suffix.lstrip("!"), str(value))

    def mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[object, object]:
        loader.flatten_mapping(node)  # YAML merge keys (<<:)
        seen: set[object] = set()
        for key_node, _ in node.value:
            key = loader.construct_object(key_node)
            if not isinstance(key, Hashable):
                raise yaml.constructor.ConstructorError(
                    None, None, "a mapping key must be a plain value", key_node.start_mark
                )
            if key in seen:
                problems.add(str(key), f"duplicate key (line {key_node.start_mark.line + 1})")
            seen.add(key)
        return dict(loader.construct_pairs(node, deep=True))

    Loader.add_multi_constructor("!", tagged)
    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        problems.lines.append(f"{path}: cannot read: {exc.strerror or exc}")
        return _FAILED
    except UnicodeDecodeError as exc:
        problems.lines.append(f"{path}: not UTF-8 text: {exc.reason}")
        return _FAILED
    try:
        return yaml.load(text, Loader=Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" (line {where.line + 1})" if where is not None else ""
        reason = getattr(exc, "problem", None) or str(exc)
        problems.lines.append(f"{path}: not valid YAML: {reason}{line}")
        return _FAILED


_SUBSTITUTION = re.compile(r"\$\{([A-Za-z0-9_]+)\}|\$([A-Za-z0-9_]+)")


def _substitute(doc: dict[Any, Any], problems: Problems) -> dict[Any, Any]:
    """Apply ESPHome `substitutions` (`${name}` and `$name`) to every string and tag value."""
    raw = doc.get("substitutions")
    names = {str(k): str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}
    for _ in range(8):  # values may use earlier values: footfall-${door}
        names = {k: _expand(v, names, "", None) for k, v in names.items()}

    def walk(value: object, key: str) -> object:
        if isinstance(value, str):
            return _expand(value, names, key, problems)
        if isinstance(value, Tagged):
            return Tagged(value.tag, _expand(value.value, names, key, problems))
        if isinstance(value, dict):
            return {k: walk(v, _join(key, str(k))) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, f"{key}[{i}]") for i, v in enumerate(value)]
        return value

    out = {k: walk(v, str(k)) if k != "substitutions" else v for k, v in doc.items()}
    if isinstance(raw, dict):
        out["substitutions"] = names
    return out


def _expand(text: str, names: Mapping[str, str], key: str, problems: Problems | None) -> str:
    """``text`` with known substitutions applied; unknown `${name}` reported if ``problems``."""

    def one(match: re.Match[str]) -> str:
        name = match[1] or match[2]
        if name in names:
            return names[name]
        if match[1] and problems is not None:
            problems.add(key, f"uses ${{{name}}}, which substitutions does not define")
        return match[0]

    return _SUBSTITUTION.sub(one, text)


# --- the schema checker --------------------------------------------------------------------

_TYPE_NAMES = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "empty",
}
_TRUE = {"true", "yes", "on", "enable"}
_FALSE = {"false", "no", "off", "disable"}
_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "sec": 1000.0, "min": 60_000.0, "h": 3.6e6}


def _check(value: object, schema: Mapping[str, Any], key: str, problems: Problems) -> None:
    shown = key or "(file)"
    if isinstance(value, Tagged):
        accepted = (schema.get("x-tag"), *schema.get("x-tags", ()))
        if value.tag in accepted or not ("type" in schema or "x-tag" in schema):
            return
        problems.add(shown, f"must be {_expected(schema)}, not a !{value.tag}")
        return
    if "x-tag" in schema:
        tag = schema["x-tag"]
        problems.add(shown, f"must be a !{tag} (kept in secrets.yaml, not in this file)")
        return
    if schema.get("x-ensure-list") and not isinstance(value, list):
        value = [value]
    converted = _typed(value, schema)
    if converted is _MISMATCH:
        problems.add(shown, f"must be {_expected(schema)}, got {_describe(value)}")
        return
    if "x-format" in schema:
        converted = _formatted(converted, schema["x-format"])
        if converted is _MISMATCH:
            problems.add(shown, f"must be {_FORMATS[schema['x-format']]}, got {_describe(value)}")
            return
    for rule in (_check_value, _check_object, _check_array):
        if rule(converted, schema, shown, problems):
            return


_MISMATCH = object()


def _typed(value: object, schema: Mapping[str, Any]) -> object:
    """ESPHome reads scalars loosely ("1883" is a port, "true" a boolean); so does this."""
    types = schema.get("type")
    if types is None:
        return value
    for kind in [types] if isinstance(types, str) else types:
        converted = _as(kind, value)
        if converted is not _MISMATCH:
            return converted
    return _MISMATCH


def _as(kind: str, value: object) -> object:  # noqa: PLR0911 - one return per JSON type
    if kind == "object":
        return value if isinstance(value, dict) else _MISMATCH
    if kind == "array":
        return value if isinstance(value, list) else _MISMATCH
    if kind == "null":
        return value if value is None else _MISMATCH
    if kind == "string":
        ok = isinstance(value, str | int | float) and not isinstance(value, bool)
        return str(value) if ok else _MISMATCH
    if kind == "boolean":
        text = str(value).lower() if isinstance(value, str | bool) else ""
        return True if text in _TRUE else False if text in _FALSE else _MISMATCH
    if isinstance(value, bool):
        return _MISMATCH
    if isinstance(value, int) or (isinstance(value, str) and re.fullmatch(r"-?\d+", value)):
        return int(value)
    if kind == "number" and isinstance(value, float | str):
        try:
            return float(value)
        except ValueError:
            return _MISMATCH
    return _MISMATCH


_FORMATS = {"duration": "a time with a unit, like 100ms or 60s", "decibel": "a power like 3dBm"}


def _formatted(value: object, fmt: str) -> object:
    if fmt == "duration":
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*", str(value))
        if match is None or match[2] not in _UNITS_MS:
            return _MISMATCH
        return float(match[1]) * _UNITS_MS[match[2]]
    match = re.fullmatch(r"\s*(-?\d+)\s*(?:dbm?)?\s*", str(value), re.IGNORECASE)
    return int(match[1]) if match else _MISMATCH


def _check_value(value: object, schema: Mapping[str, Any], key: str, problems: Problems) -> bool:
    problem = None
    if "const" in schema and value != schema["const"]:
        why = f" ({schema['description']})" if "description" in schema else ""
        problem = f"must be {_show(schema['const'])}, got {_show(value)}{why}"
    elif "enum" in schema and value not in schema["enum"]:
        choices = ", ".join(_show(v) for v in schema["enum"])
        problem = f"must be one of {choices}; got {_show(value)}"
    elif isinstance(value, str) and "pattern" in schema and not re.search(schema["pattern"], value):
        problem = f"must match {schema['pattern']}, got {value!r}"
    elif isinstance(value, str) and len(value) < schema.get("minLength", 0):
        problem = "must not be empty"
    elif isinstance(value, int | float) and not isinstance(value, bool):
        unit = " ms" if schema.get("x-format") == "duration" else ""
        if "minimum" in schema and value < schema["minimum"]:
            problem = f"must be at least {schema['minimum']:g}{unit}, got {value:g}{unit}"
        elif "maximum" in schema and value > schema["maximum"]:
            problem = f"must be at most {schema['maximum']:g}{unit}, got {value:g}{unit}"
    if problem is not None:
        problems.add(key, problem)
    return problem is not None


def _check_object(value: object, schema: Mapping[str, Any], key: str, problems: Problems) -> bool:
    if not isinstance(value, dict):
        return False
    path = "" if key == "(file)" else key
    for name in schema.get("required", ()):
        if name not in value:
            problems.add(_join(path, name), "missing required key")
    properties = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    for name, item in value.items():
        if name in properties:
            _check(item, properties[name], _join(path, str(name)), problems)
        elif extra is False:
            problems.add(_join(path, str(name)), "unknown key")
        elif isinstance(extra, dict):
            _check(item, extra, _join(path, str(name)), problems)
    return True


def _check_array(value: object, schema: Mapping[str, Any], key: str, problems: Problems) -> bool:
    if not isinstance(value, list):
        return False
    if len(value) < schema.get("minItems", 0):
        problems.add(key, f"needs at least {schema['minItems']} items, got {len(value)}")
    for index, item in enumerate(value):
        if "items" in schema:
            _check(item, schema["items"], f"{key}[{index}]", problems)
    return True


def _expected(schema: Mapping[str, Any]) -> str:
    if "x-tag" in schema:
        return f"a !{schema['x-tag']}"
    types = schema.get("type", [])
    names = [_TYPE_NAMES[t] for t in ([types] if isinstance(types, str) else types)]
    names += [f"a !{tag}" for tag in schema.get("x-tags", ())]
    return " or ".join(names) or "a value"


def _describe(value: object) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    if isinstance(value, str):
        return f"the string {value!r}"
    return f"{type(value).__name__} {_show(value)}"


def _show(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, str) else str(value)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


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
    where = f"devices[{device.index}].{{}}_topic" if device else "the agent's default {}_topic"
    for direction in ("in", "out"):
        want = (
            getattr(device, f"{direction}_topic", None)
            or f"{prefix}/sensor/people_{direction}/state"
        )
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
        restored = str(variable.get("restore_value", "false")).lower() in _TRUE
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
                yield _join(key, str(k)), v
            else:
                yield from _actions(v, _join(key, str(k)), name)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _actions(v, f"{key}[{i}]", name)


def _scanner(doc: dict[Any, Any], problems: Problems, device: DeviceConfig | None) -> None:
    tracker = doc.get("esp32_ble_tracker")
    if not isinstance(tracker, dict):
        return
    params = tracker.get("scan_parameters")
    if isinstance(params, dict):
        interval = _formatted(params.get("interval", "320ms"), "duration")
        window = _formatted(params.get("window", "30ms"), "duration")
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
    topic_filter = (device.topic if device is not None else None) or DEFAULT_PROXY_FILTER
    where = f"devices[{device.index}].topic" if device is not None else "the default topic"
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
        if str(action.get("retain", "false")).lower() in _TRUE:
            problems.add(
                f"{key}.retain",
                "must be false: a retained message per phone address would pile up on the broker",
            )


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
    low = _formatted(beacon.get("min_interval", "100ms"), "duration")
    high = _formatted(beacon.get("max_interval", "100ms"), "duration")
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
    if device is not None and device.path is not None and device.path != path:
        problems.add("path", f"is {path!r}, but devices[{device.index}].path opens {device.path!r}")


_CROSS_CHECKS: dict[str, Callable[[dict[Any, Any], Problems, DeviceConfig | None], None]] = {
    "door-node": _door_node,
    "ble-door-scanner": _scanner,
    "store-beacon": _beacon,
    "nfc-reader": _nfc,
}
