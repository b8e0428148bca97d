"""Parse and validate a TOML config file into an :class:`AgentConfig`.

Every problem is collected (file, key, why) and raised together as a ConfigError, so an
operator fixes a config in one pass. Unknown keys are problems too: a typo must not be
silently ignored on a device nobody is watching.
"""

from __future__ import annotations

import base64
import binascii
import re
import tomllib
import zoneinfo
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from urllib.parse import urlsplit

from agent.config.devices import DEVICE_KEYS, parse_devices
from agent.config.firmware import firmware_of, validate_firmware
from agent.config.home_assistant import parse_home_assistant
from agent.config.model import (
    NO_CREDENTIALS,
    AgentConfig,
    BrokerCredentials,
    HttpConfig,
    MqttConfig,
    OccupancyConfig,
    OpeningHours,
    RecognitionConfig,
    StorageConfig,
    StoreConfig,
)
from agent.config.playbook import parse_alerts, parse_playbook_config
from agent.config.printer import parse_printer
from agent.config.push import parse_push
from agent.config.queue_extras import parse_appointments, parse_priorities
from agent.config.queues import parse_queues
from agent.config.reader import Problems, Table, describe_kind
from agent.errors import ConfigError

STORE_ID_PATTERN = r"[a-z0-9-]{1,64}"
TOPIC_PREFIX_PATTERN = r"[^#+\s]+(/[^#+\s]+)*"


def load_config(path: Path) -> AgentConfig:
    """Read and validate ``path``; raise ConfigError listing every problem."""
    problems = Problems(str(path))
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror or exc}"]) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError([f"{path}: not UTF-8 text: {exc.reason}"]) from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: not valid TOML: {exc}"]) from exc
    return parse_config(data, source=path, problems=problems)


def parse_config(
    data: dict[str, object], *, source: Path, problems: Problems | None = None
) -> AgentConfig:
    problems = problems or Problems(str(source))
    root = Table(problems, "", data)
    base = source.parent
    store = _store(root)
    mqtt = _mqtt(root, base, store.id)
    config = AgentConfig(
        source=source,
        store=store,
        storage=_storage(root, base),
        http=_http(root),
        mqtt=mqtt,
        queues=parse_queues(root),
        priorities=parse_priorities(root),
        appointments=parse_appointments(root),
        opening_hours=_opening_hours(root),
        recognition=_recognition(root),
        occupancy=_occupancy(root),
        push=parse_push(root),
        printer=parse_printer(root),
        home_assistant=parse_home_assistant(root, has_mqtt=mqtt is not None),
        playbook=parse_playbook_config(root, base),
        alerts=parse_alerts(root),
        devices=parse_devices(
            root,
            base,
            default_url=mqtt.url if mqtt else None,
            default_credentials=_link_credentials(mqtt),
        ),
    )
    root.finish()
    for device in config.devices:
        match firmware_of(device):
            case (kind, Path() as firmware) if firmware.is_file():
                problems.lines.extend(validate_firmware(firmware, kind, device))
    if problems.lines:
        raise ConfigError(problems.lines)
    return config


def _store(root: Table) -> StoreConfig:
    t = root.table("store", required=True) or Table(root.problems, "store", {})
    store_id = t.string("id", pattern=STORE_ID_PATTERN)
    name = t.string("name")
    timezone = t.string("timezone", "UTC")
    if t.ok("timezone"):
        try:
            zoneinfo.ZoneInfo(timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            t.bad("timezone", f"unknown IANA time zone {timezone!r}")
    t.finish()
    return StoreConfig(id=store_id, name=name, timezone=timezone)


def _storage(root: Table, base: Path) -> StorageConfig:
    t = root.table("storage", required=True) or Table(root.problems, "storage", {})
    raw = t.string("path")
    path = Path(raw) if Path(raw).is_absolute() else (base / raw)
    config = StorageConfig(
        path=path,
        outbox_max_events=t.integer("outbox_max_events", 500_000, minimum=1000),
        outbox_max_age_s=t.integer("outbox_max_age_s", 14 * 24 * 3600, minimum=3600),
        sent_keep_events=t.integer("sent_keep_events", 50_000, minimum=0, maximum=10_000_000),
        sent_keep_h=t.integer("sent_keep_h", 24, minimum=0, maximum=24 * 30),
        ticket_name_retention_h=t.integer("ticket_name_retention_h", 24, minimum=1, maximum=720),
        ticket_retention_days=t.integer("ticket_retention_days", 30, minimum=1, maximum=400),
    )
    t.finish()
    return config


def _http(root: Table) -> HttpConfig:
    t = root.table("http", required=True) or Table(root.problems, "http", {})
    bind = t.string("bind", "0.0.0.0")  # noqa: S104 - a store device serves its LAN by design
    port = t.integer("port", 8080, minimum=0, maximum=65535)
    public_url = t.string("public_url")
    parts = urlsplit(public_url)
    if t.ok("public_url") and (parts.scheme not in ("http", "https") or not parts.netloc):
        t.bad("public_url", f"must be an http:// or https:// URL, got {public_url!r}")
    config = HttpConfig(
        bind=bind,
        port=port,
        public_url=public_url.rstrip("/"),
        joins_per_client=t.integer("joins_per_client", 5, minimum=1, maximum=1_000_000),
        join_window_s=t.integer("join_window_s", 600, minimum=10, maximum=86400),
        joins_per_token_per_minute=t.integer(
            "joins_per_token_per_minute", 60, minimum=1, maximum=10_000
        ),
        wrong_tokens_per_client=t.integer("wrong_tokens_per_client", 20, minimum=1, maximum=10_000),
        trusted_proxies=_trusted_proxies(t, https=parts.scheme == "https"),
    )
    t.finish()
    return config


LOOPBACK = (ip_network("127.0.0.1/32"), ip_network("::1/128"))


def _trusted_proxies(t: Table, *, https: bool) -> tuple[IPv4Network | IPv6Network, ...]:
    """`[http] trusted_proxies`: addresses or CIDR networks. Unset, an https public URL
    implies a TLS-terminating proxy on this machine (the agent speaks plain HTTP), so
    loopback is trusted; otherwise nobody is, and X-Forwarded-For is ignored."""
    if not t.has("trusted_proxies"):
        return LOOPBACK if https else ()
    raw = t.raw("trusted_proxies")
    if not isinstance(raw, list):
        t.bad(
            "trusted_proxies",
            f"must be an array of IP addresses or networks, got {describe_kind(raw)}",
        )
        return ()
    networks: list[IPv4Network | IPv6Network] = []
    for n, entry in enumerate(raw):
        if not isinstance(entry, str):
            t.bad("trusted_proxies", f"entry {n + 1}: must be a string, got {describe_kind(entry)}")
            continue
        try:
            # strict: "10.0.0.1/8" is more likely a typo than a wish to trust 10.0.0.0/8.
            networks.append(ip_network(entry.strip(), strict=True))
        except ValueError as exc:
            # ipaddress names the entry: "'proxy.lan' does not appear to be an IPv4 or ...".
            t.bad("trusted_proxies", f"entry {n + 1}: {exc}")
    return tuple(networks)


def _mqtt(root: Table, base: Path, store_id: str) -> MqttConfig | None:
    t = root.table("mqtt")
    if t is None:
        return None  # no [mqtt]: the agent runs with sync disabled and says so in /healthz
    url = t.string("url")
    parts = urlsplit(url)
    tls = parts.scheme == "mqtts"
    host, port = "", 0
    if not t.ok("url"):
        pass
    elif parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        t.bad("url", f"must be mqtt://host[:port] or mqtts://host[:port], got {url!r}")
    else:
        host = parts.hostname
        try:
            port = parts.port or (8883 if tls else 1883)
        except ValueError:
            t.bad("url", f"bad port in {url!r}")
    client_cert = t.file_path("client_cert", base, must_exist=True)
    client_key = t.file_path("client_key", base, must_exist=True, secret=True)
    if (client_cert is None) != (client_key is None):
        t.bad("client_cert", "client_cert and client_key go together")
    ca_file = t.file_path("ca_file", base, must_exist=True)
    if (client_cert or ca_file) and not tls and t.ok("url"):
        t.bad("url", "ca_file/client_cert need an mqtts:// URL")
    config = MqttConfig(
        url=url,
        tls=tls,
        host=host,
        port=port,
        topic_prefix=t.string("topic_prefix", "retail/v1", pattern=TOPIC_PREFIX_PATTERN),
        client_id=t.string("client_id", f"retail-edge-{store_id}", pattern=r"[\x21-\x7e]{1,64}"),
        username=t.optional_string("username"),
        password_file=t.file_path("password_file", base, must_exist=True, secret=True),
        ca_file=ca_file,
        client_cert=client_cert,
        client_key=client_key,
        keepalive_s=t.integer("keepalive_s", 30, minimum=5, maximum=600),
        session_expiry_s=t.integer("session_expiry_s", 3600, minimum=0, maximum=7 * 24 * 3600),
        inflight_window=t.integer("inflight_window", 32, minimum=1, maximum=1000),
        batch_max_events=t.integer("batch_max_events", 200, minimum=1, maximum=5000),
        reconnect_max_s=t.number("reconnect_max_s", 60.0, minimum=1.0, maximum=120.0),
    )
    t.finish()
    return config


def _link_credentials(mqtt: MqttConfig | None) -> BrokerCredentials:
    if mqtt is None:
        return NO_CREDENTIALS
    return BrokerCredentials(
        username=mqtt.username,
        password_file=mqtt.password_file,
        ca_file=mqtt.ca_file,
        client_cert=mqtt.client_cert,
        client_key=mqtt.client_key,
    )


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HOURS_PATTERN = re.compile(r"([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)")


def _opening_hours(root: Table) -> OpeningHours:
    t = root.table("opening_hours")
    if t is None:
        return OpeningHours()
    days: list[tuple[int, int] | None] = []
    for day in WEEKDAYS:
        text = t.string(day, "closed")
        match = HOURS_PATTERN.fullmatch(text)
        if text == "closed" or not t.ok(day):
            days.append(None)
        elif match is None:
            t.bad(day, f'must be "HH:MM-HH:MM" or "closed", got {text!r}')
            days.append(None)
        else:
            start = int(match[1]) * 60 + int(match[2])
            end = int(match[3]) * 60 + int(match[4])
            if end > 24 * 60:
                t.bad(day, f"closing time is past 24:00 in {text!r}")
            elif end <= start:
                t.bad(day, f"closing time must be after opening time, got {text!r}")
            days.append((start, end))
    t.finish()
    return OpeningHours(days=tuple(days))


def _recognition(root: Table) -> RecognitionConfig:
    t = root.table("recognition")
    defaults = RecognitionConfig()
    if t is None:
        return defaults
    rssi = t.integer("door_rssi_dbm", defaults.door_rssi_dbm, minimum=-127, maximum=20)
    key_text = t.optional_string("pass_public_key")
    key: bytes | None = None
    if key_text:
        try:
            key = base64.b64decode(key_text, validate=True)
        except (binascii.Error, ValueError):
            t.bad("pass_public_key", "must be base64")
        else:
            if len(key) != 32:
                t.bad("pass_public_key", f"must decode to 32 bytes (Ed25519), got {len(key)}")
                key = None
    config = RecognitionConfig(
        door_rssi_dbm=rssi,
        pass_public_key=key,
        arrive_after_s=t.number(
            "arrive_after_s", defaults.arrive_after_s, minimum=0.0, maximum=60.0
        ),
        leave_after_s=t.number(
            "leave_after_s", defaults.leave_after_s, minimum=5.0, maximum=3600.0
        ),
        untracked_visit_s=t.number(
            "untracked_visit_s", defaults.untracked_visit_s, minimum=60.0, maximum=86400.0
        ),
        alert_cooldown_s=t.number(
            "alert_cooldown_s", defaults.alert_cooldown_s, minimum=0.0, maximum=86400.0
        ),
        scanner_watchdog_s=t.number(
            "scanner_watchdog_s", defaults.scanner_watchdog_s, minimum=5.0, maximum=3600.0
        ),
        address_cache_size=t.integer(
            "address_cache_size", defaults.address_cache_size, minimum=64, maximum=1_000_000
        ),
        unresolved_ttl_s=t.number(
            "unresolved_ttl_s", defaults.unresolved_ttl_s, minimum=1.0, maximum=600.0
        ),
        visit_retention_days=t.integer(
            "visit_retention_days", defaults.visit_retention_days, minimum=1, maximum=730
        ),
        alert_retention_h=t.integer(
            "alert_retention_h", defaults.alert_retention_h, minimum=1, maximum=720
        ),
    )
    t.finish()
    return config


def _occupancy(root: Table) -> OccupancyConfig:
    t = root.table("occupancy")
    if t is None:
        return OccupancyConfig()
    reset_at = t.string("reset_at", "04:00", pattern=r"([01]\d|2[0-3]):[0-5]\d")
    config = OccupancyConfig(
        capacity=t.optional_integer("capacity", minimum=1, maximum=100_000),
        busy_ratio=t.number("busy_ratio", 0.7, minimum=0.05, maximum=1.0),
        busy_at=t.optional_integer("busy_at", minimum=1, maximum=100_000),
        reset_at=reset_at,
        report_interval_s=t.integer("report_interval_s", 300, minimum=10, maximum=86400),
        publish_min_interval_s=t.number("publish_min_interval_s", 1.0, minimum=0.0, maximum=60.0),
    )
    t.finish()
    return config


__all__ = ["DEVICE_KEYS", "WEEKDAYS", "load_config", "parse_config"]
