"""`[[devices]]` entries: which keys each kind and adapter takes, their defaults, and the
frozen class (agent.config.model) each entry becomes. Problems name the entry's key, like
the rest of the loader's (`devices[N].key: why`).
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from agent.config.model import (
    DEFAULT_PROXY_TOPIC,
    NO_CREDENTIALS,
    BleBleakDevice,
    BleMqttProxyDevice,
    BrokerCredentials,
    DeviceConfig,
    FootfallGpioDevice,
    FootfallMqttDevice,
    NfcDevice,
    QrCameraDevice,
    SimulatedBleDevice,
    SimulatedFootfallDevice,
    SimulatedNfcDevice,
    SimulatedQrCameraDevice,
)
from agent.config.reader import Table

# Extension: an adapter that reads a broker logs in like the main link (`[mqtt]`'s keys).
CREDENTIAL_KEYS = ("username", "password_file", "ca_file", "client_cert", "client_key")
# kind -> adapter -> the keys that adapter accepts besides kind/adapter.
DEVICE_KEYS: dict[str, dict[str, tuple[str, ...]]] = {
    "ble": {
        "bleak": (),
        "simulated": (),
        "mqtt-proxy": ("url", "topic", "firmware", *CREDENTIAL_KEYS),
    },
    "qr-camera": {"opencv": ("source", "decoder"), "simulated": ()},
    "nfc": {"nfcpy": ("path", "firmware"), "simulated": ()},
    "footfall": {
        "mqtt": ("door", "url", "in_topic", "out_topic", "firmware", *CREDENTIAL_KEYS),
        "gpio": ("door", "outer_pin", "inner_pin"),
        "simulated": ("door",),
    },
}
DEVICE_FIELDS = (
    "url", "topic", "source", "path", "door", "in_topic", "out_topic", "outer_pin", "inner_pin",
    "decoder",
)  # fmt: skip
# `firmware` (extension): the device's config in firmware_configs/, a path relative to this
# file's folder, checked with agent.config.firmware against this entry (not a DEVICE_FIELD:
# it becomes a Path, not a string).
FIRMWARE_KEY = "firmware"


def parse_devices(
    root: Table,
    base: Path,
    default_url: str | None,
    default_credentials: BrokerCredentials = NO_CREDENTIALS,
) -> tuple[DeviceConfig, ...]:
    """``default_credentials`` are `[mqtt]`'s: an entry without a `url` reads the main broker,
    so it logs in as the main link does unless it names credentials of its own."""
    raw = root.raw("devices")
    if raw is None:
        return ()
    if not isinstance(raw, list):
        root.bad("devices", "must be an array of tables ([[devices]])")
        return ()
    devices = []
    for index, entry in enumerate(raw):
        t = Table(root.problems, f"devices[{index}]", entry)
        kind = t.choice("kind", tuple(DEVICE_KEYS))
        if not t.ok("kind"):
            # Without a known kind nothing else in the entry can be judged; say only that.
            for key in t.names():
                t.raw(key)
            t.finish()
            continue
        adapters = DEVICE_KEYS[kind]
        adapter = t.choice("adapter", tuple(adapters))
        allowed = adapters.get(adapter, ())
        values: dict[str, str | None] = {}
        for key in (*DEVICE_FIELDS, FIRMWARE_KEY, *CREDENTIAL_KEYS):
            if t.has(key) and key not in allowed:
                t.bad(key, f"not used by kind={kind!r} adapter={adapter!r}")
                t.raw(key)
            elif key in DEVICE_FIELDS and key in allowed:
                values[key] = t.optional_string(key)
        firmware = None
        if FIRMWARE_KEY in allowed:
            firmware = t.file_path(FIRMWARE_KEY, base, must_exist=True)
        credentials = NO_CREDENTIALS
        if "username" in allowed:
            credentials = _credentials(t, base, default_credentials if not t.has("url") else None)
        _device_defaults(t, kind, adapter, values, default_url)
        t.finish()
        devices.append(_device(kind, adapter, index, values, firmware, credentials))
    return tuple(devices)


def _credentials(t: Table, base: Path, inherited: BrokerCredentials | None) -> BrokerCredentials:
    """The entry's own broker login; with none of its keys and no `url`, `[mqtt]`'s."""
    if inherited is not None and not any(t.has(key) for key in CREDENTIAL_KEYS):
        return inherited
    credentials = BrokerCredentials(
        username=t.optional_string("username"),
        password_file=t.file_path("password_file", base, must_exist=True, secret=True),
        ca_file=t.file_path("ca_file", base, must_exist=True),
        client_cert=t.file_path("client_cert", base, must_exist=True),
        client_key=t.file_path("client_key", base, must_exist=True, secret=True),
    )
    if (credentials.client_cert is None) != (credentials.client_key is None):
        t.bad("client_cert", "client_cert and client_key go together")
    url = t.raw("url") if t.has("url") else None
    tls_keys = credentials.ca_file or credentials.client_cert
    if tls_keys and isinstance(url, str) and urlsplit(url).scheme != "mqtts":
        t.bad("url", "ca_file/client_cert need an mqtts:// URL")
    return credentials


def _device(
    kind: str,
    adapter: str,
    index: int,
    values: dict[str, str | None],
    firmware: Path | None,
    credentials: BrokerCredentials,
) -> DeviceConfig:
    """The entry as the class of its kind and adapter (both already checked against
    DEVICE_KEYS). A required key that is missing is a problem already reported; it reads as ""
    here, and the config is refused before anything uses it."""

    def value(key: str) -> str:
        return values.get(key) or ""

    device: DeviceConfig
    match kind, adapter:
        case "ble", "bleak":
            device = BleBleakDevice(index=index)
        case "ble", "mqtt-proxy":
            device = BleMqttProxyDevice(
                index=index,
                url=value("url"),
                topic=value("topic"),
                firmware=firmware,
                credentials=credentials,
            )
        case "ble", "simulated":
            device = SimulatedBleDevice(index=index)
        case "qr-camera", "opencv":
            device = QrCameraDevice(index=index, source=value("source"), decoder=value("decoder"))
        case "qr-camera", "simulated":
            device = SimulatedQrCameraDevice(index=index)
        case "nfc", "nfcpy":
            device = NfcDevice(index=index, path=value("path"), firmware=firmware)
        case "nfc", "simulated":
            device = SimulatedNfcDevice(index=index)
        case "footfall", "mqtt":
            device = FootfallMqttDevice(
                index=index,
                door=value("door"),
                url=value("url"),
                in_topic=value("in_topic"),
                out_topic=value("out_topic"),
                firmware=firmware,
                credentials=credentials,
            )
        case "footfall", "gpio":
            device = FootfallGpioDevice(
                index=index,
                door=value("door"),
                outer_pin=value("outer_pin"),
                inner_pin=value("inner_pin"),
            )
        case "footfall", "simulated":
            device = SimulatedFootfallDevice(index=index, door=value("door"))
        case _:
            raise ValueError(
                f"DEVICE_KEYS has kind={kind!r} adapter={adapter!r}; no class builds it"
            )
    return device


def _device_defaults(
    t: Table, kind: str, adapter: str, values: dict[str, str | None], default_url: str | None
) -> None:
    if "url" in DEVICE_KEYS[kind].get(adapter, ()) and not values.get("url"):
        # Contract §2: a device's broker defaults to [mqtt] url (usually an in-store broker).
        if default_url is None:
            t.bad("url", "missing: no [mqtt] url to default to")
        values["url"] = default_url
    url = values.get("url")
    if url is not None and urlsplit(url).scheme not in ("mqtt", "mqtts"):
        t.bad("url", f"must be an mqtt:// or mqtts:// URL, got {url!r}")
    if kind == "ble" and adapter == "mqtt-proxy":
        values["topic"] = values.get("topic") or DEFAULT_PROXY_TOPIC
    if kind == "nfc" and adapter == "nfcpy":
        values["path"] = values.get("path") or "usb"
    if kind == "qr-camera" and adapter == "opencv":
        _camera_defaults(t, values)
    if kind == "footfall":
        _footfall_defaults(t, adapter, values)


def _camera_defaults(t: Table, values: dict[str, str | None]) -> None:
    if not values.get("source"):
        t.bad("source", "missing required key (a camera index, device path, URL or file)")
    values["decoder"] = values.get("decoder") or "zxing"
    if values["decoder"] not in ("zxing", "pyzbar"):
        t.bad("decoder", f"must be zxing or pyzbar, got {values['decoder']!r}")


def _footfall_defaults(t: Table, adapter: str, values: dict[str, str | None]) -> None:
    door = values.get("door") or "main"
    values["door"] = door
    if re.fullmatch(r"[a-z0-9-]{1,32}", door) is None:
        t.bad("door", "must match [a-z0-9-]{1,32}")
    if adapter == "gpio":
        for pin in ("outer_pin", "inner_pin"):
            if not values.get(pin):
                t.bad(pin, 'missing required key (e.g. "GPIO17")')
    if adapter == "mqtt":
        values["in_topic"] = values.get("in_topic") or f"footfall-{door}/sensor/people_in/state"
        values["out_topic"] = values.get("out_topic") or f"footfall-{door}/sensor/people_out/state"
