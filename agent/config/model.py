"""The agent's configuration as frozen, typed objects (contract §2 keys plus documented extras)."""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import Literal

from agent.config.playbook import AlertsConfig, PlaybookConfig
from agent.config.printer import PrinterConfig
from agent.config.queue_extras import AppointmentsConfig, PriorityConfig
from agent.core.presence import PresenceSettings
from agent.core.push import DEFAULT_ENDPOINT_HOSTS

# The presence rules' defaults are the core's; the config only says which ones a store changed.
_PRESENCE = PresenceSettings()


@dataclass(frozen=True, slots=True)
class StoreConfig:
    id: str
    name: str
    timezone: str


@dataclass(frozen=True, slots=True)
class StorageConfig:
    path: Path
    # Offline retention of the outbox: past either bound the oldest events are dropped
    # (logged, counted, and announced with an `outbox.dropped` event so the gap is explained).
    outbox_max_events: int = 500_000
    outbox_max_age_s: int = 14 * 24 * 3600
    # Delivered events kept for resend requests (a broker that lost them after its PUBACK).
    sent_keep_events: int = 50_000
    sent_keep_h: int = 24
    ticket_name_retention_h: int = 24  # names/phones of ended tickets are blanked after this
    ticket_retention_days: int = 30  # ended tickets (anonymous by then) are deleted after this


@dataclass(frozen=True, slots=True)
class HttpConfig:
    bind: str
    port: int
    public_url: str
    joins_per_client: int = 5  # joins one client address may make per join_window_s
    join_window_s: int = 600
    joins_per_token_per_minute: int = 60
    # Refused joins whose window token is wrong or expired, per client address and
    # join_window_s: they do not use up the join quota, but guessing stays bounded.
    wrong_tokens_per_client: int = 20
    # Peers whose X-Forwarded-For is believed. The loader's default is none, or loopback
    # when public_url is https (the agent speaks plain HTTP, so an https public URL means a
    # TLS-terminating proxy in front of it).
    trusted_proxies: tuple[IPv4Network | IPv6Network, ...] = ()


@dataclass(frozen=True, slots=True)
class MqttConfig:
    url: str
    tls: bool
    host: str
    port: int
    topic_prefix: str
    client_id: str
    username: str | None = None
    password_file: Path | None = field(default=None, repr=False)
    ca_file: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = field(default=None, repr=False)
    keepalive_s: int = 30
    session_expiry_s: int = 3600
    inflight_window: int = 32
    batch_max_events: int = 200
    reconnect_max_s: float = 60.0


@dataclass(frozen=True, slots=True)
class QueueConfig:
    id: str
    label: str
    window_token: str  # "rotating" | "static"
    max_waiting: int = 200
    default_service_s: int = 300
    servers: int = 1
    grace_s: int = 180  # a called customer not there after this is flagged to staff
    auto_no_show_s: int = 600  # ... and marked no-show after this (0: never automatically)
    snooze_places: int = 3  # "I need a few more minutes" moves back at most this many places
    # "Almost your turn" (contract 8.6): once, when a waiting ticket first reaches this
    # position, or (when set) an estimated wait of at most notify_eta_s, whichever is first.
    notify_position: int = 2
    notify_eta_s: int | None = None
    # Contract 8.7: the counters (desks) calls may name; empty: calls name none, or any.
    counters: tuple[str, ...] = ()
    # A linked customer whose visit ended walks out of the queue this long after it.
    walkout_grace_s: int = 120
    # Called by the agent itself while the store is below `[occupancy] capacity`.
    entry: bool = False

    @property
    def printed_sticker(self) -> bool:
        """A static token (printed sticker) rather than a rotating window screen."""
        return self.window_token == "static"  # noqa: S105 - a mode name, not a secret


@dataclass(frozen=True, slots=True)
class PushConfig:
    """`[push]`: Web Push to customers' phones (contract 8.6)."""

    # Allowed push-service hosts (agent.core.push.parse_host_rule): https only, except
    # entries written http://HOST:PORT.
    endpoint_hosts: tuple[str, ...] = DEFAULT_ENDPOINT_HOSTS
    # The VAPID `sub` claim: how a push service contacts the sender (RFC 8292 §2.1).
    subject: str = "mailto:push@retail-edge.invalid"
    timeout_s: float = 5.0  # connect and whole request, each attempt
    retry_initial_s: float = 2.0  # first delay after a failed attempt; doubles, capped
    retry_max_delay_s: float = 120.0
    retry_for_s: float = 900.0  # then given up (and earlier if the ticket ended)
    # An HTTP proxy for push requests (a store network without direct internet access), e.g.
    # "http://proxy.store.lan:3128". Never taken from the environment.
    proxy: str | None = None


@dataclass(frozen=True, slots=True)
class HomeAssistantConfig:
    """`[home_assistant]` (extension, opt-in): MQTT discovery configs for Home Assistant and a
    retained state topic per queue, on the `[mqtt]` broker (agent.services.home_assistant)."""

    discovery: bool = False
    discovery_prefix: str = "homeassistant"  # Home Assistant's own default


@dataclass(frozen=True, slots=True)
class OpeningHours:
    """Per weekday (0 = Monday) the open interval in minutes since local midnight, or None
    when closed that day. An absent [opening_hours] table means always open."""

    days: tuple[tuple[int, int] | None, ...] | None = None


@dataclass(frozen=True, slots=True)
class RecognitionConfig:
    door_rssi_dbm: int = _PRESENCE.door_rssi_dbm
    pass_public_key: bytes | None = None
    arrive_after_s: float = _PRESENCE.arrive_after_s
    leave_after_s: float = _PRESENCE.leave_after_s
    untracked_visit_s: float = _PRESENCE.untracked_visit_s
    alert_cooldown_s: float = _PRESENCE.alert_cooldown_s
    scanner_watchdog_s: float = 90.0
    address_cache_size: int = 4096
    unresolved_ttl_s: float = 30.0
    visit_retention_days: int = 90
    alert_retention_h: int = 24

    @property
    def presence(self) -> PresenceSettings:
        """The arrive/leave rules this config sets (the core's defaults for the rest)."""
        return PresenceSettings(
            door_rssi_dbm=self.door_rssi_dbm,
            arrive_after_s=self.arrive_after_s,
            leave_after_s=self.leave_after_s,
            untracked_visit_s=self.untracked_visit_s,
            alert_cooldown_s=self.alert_cooldown_s,
        )


@dataclass(frozen=True, slots=True)
class OccupancyConfig:
    capacity: int | None = None
    busy_ratio: float = 0.7
    busy_at: int | None = None
    reset_at: str = "04:00"  # local time; the count starts again from 0 (drift correction)
    report_interval_s: int = 300  # `footfall.counted` events: one per door per interval
    publish_min_interval_s: float = 1.0  # retained occupancy at most this often


# --- `[[devices]]`: one frozen class per kind and adapter --------------------------------
# Each entry becomes exactly the class its `kind` and `adapter` name, holding only the keys that
# adapter uses (defaults filled in by the loader), so consumers `match` on the class instead of
# asserting that optional fields are set. `kind` and `adapter` are fixed per class (not
# constructor arguments) and keep the TOML's spelling; `index` is the entry's position in the
# file, for messages that name `devices[N]`.


@dataclass(frozen=True, slots=True)
class BleBleakDevice:
    """The host's own Bluetooth radio, scanned with bleak."""

    kind: Literal["ble"] = field(default="ble", init=False)
    adapter: Literal["bleak"] = field(default="bleak", init=False)
    index: int = 0


@dataclass(frozen=True, slots=True)
class BrokerCredentials:
    """How a device adapter logs in to its (in-store) broker: the same keys as `[mqtt]`.
    TLS itself follows the entry's URL (mqtts://); these only say whom to trust and who we are."""

    username: str | None = None
    password_file: Path | None = field(default=None, repr=False)
    ca_file: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = field(default=None, repr=False)


NO_CREDENTIALS = BrokerCredentials()  # anonymous; TLS (mqtts://) against the system's CAs


@dataclass(frozen=True, slots=True)
class BleMqttProxyDevice:
    """ESP32 door scanners publishing BTtoMQTT JSON on an (in-store) broker."""

    kind: Literal["ble"] = field(default="ble", init=False)
    adapter: Literal["mqtt-proxy"] = field(default="mqtt-proxy", init=False)
    index: int
    url: str
    topic: str
    firmware: Path | None = None  # the scanners' config in firmware_configs/, checked at load
    credentials: BrokerCredentials = NO_CREDENTIALS


@dataclass(frozen=True, slots=True)
class SimulatedBleDevice:
    kind: Literal["ble"] = field(default="ble", init=False)
    adapter: Literal["simulated"] = field(default="simulated", init=False)
    index: int = 0


@dataclass(frozen=True, slots=True)
class QrCameraDevice:
    """A camera opened with cv2.VideoCapture; frames decoded for loyalty-pass QR codes."""

    kind: Literal["qr-camera"] = field(default="qr-camera", init=False)
    adapter: Literal["opencv"] = field(default="opencv", init=False)
    index: int
    source: str  # anything cv2.VideoCapture opens: index, /dev/videoN, rtsp://, a file
    decoder: str = "zxing"  # or "pyzbar"


@dataclass(frozen=True, slots=True)
class SimulatedQrCameraDevice:
    kind: Literal["qr-camera"] = field(default="qr-camera", init=False)
    adapter: Literal["simulated"] = field(default="simulated", init=False)
    index: int = 0


@dataclass(frozen=True, slots=True)
class NfcDevice:
    """A reader nfcpy drives (PN532, ACR122U, RC-S380)."""

    kind: Literal["nfc"] = field(default="nfc", init=False)
    adapter: Literal["nfcpy"] = field(default="nfcpy", init=False)
    index: int
    path: str = "usb"  # nfcpy's device path, e.g. usb:072f:2200 or tty:S0:pn532
    firmware: Path | None = None


@dataclass(frozen=True, slots=True)
class SimulatedNfcDevice:
    kind: Literal["nfc"] = field(default="nfc", init=False)
    adapter: Literal["simulated"] = field(default="simulated", init=False)
    index: int = 0


@dataclass(frozen=True, slots=True)
class FootfallMqttDevice:
    """An ESPHome-style door node publishing cumulative in/out counts."""

    kind: Literal["footfall"] = field(default="footfall", init=False)
    adapter: Literal["mqtt"] = field(default="mqtt", init=False)
    index: int
    door: str
    url: str
    in_topic: str
    out_topic: str
    firmware: Path | None = None
    credentials: BrokerCredentials = NO_CREDENTIALS


@dataclass(frozen=True, slots=True)
class FootfallGpioDevice:
    """A pair of break beams on the host's GPIO."""

    kind: Literal["footfall"] = field(default="footfall", init=False)
    adapter: Literal["gpio"] = field(default="gpio", init=False)
    index: int
    door: str
    outer_pin: str  # the street-side beam's receiver
    inner_pin: str  # the shop-side beam's receiver


@dataclass(frozen=True, slots=True)
class SimulatedFootfallDevice:
    """A door the demo's store day drives."""

    kind: Literal["footfall"] = field(default="footfall", init=False)
    adapter: Literal["simulated"] = field(default="simulated", init=False)
    index: int = 0
    door: str = "main"


DEFAULT_PROXY_TOPIC = "home/+/BTtoMQTT/#"  # OpenMQTTGateway / Theengs Gateway's BTtoMQTT

BleDevice = BleBleakDevice | BleMqttProxyDevice | SimulatedBleDevice
QrDevice = QrCameraDevice | SimulatedQrCameraDevice
NfcReaderDevice = NfcDevice | SimulatedNfcDevice
FootfallDevice = FootfallMqttDevice | FootfallGpioDevice | SimulatedFootfallDevice
DeviceConfig = BleDevice | QrDevice | NfcReaderDevice | FootfallDevice
# The devices whose own configuration (firmware_configs/) the agent can check.
FirmwareDevice = BleMqttProxyDevice | NfcDevice | FootfallMqttDevice


@dataclass(frozen=True, slots=True)
class AgentConfig:
    source: Path
    store: StoreConfig
    storage: StorageConfig
    http: HttpConfig
    mqtt: MqttConfig | None
    queues: tuple[QueueConfig, ...] = ()
    opening_hours: OpeningHours = OpeningHours()
    recognition: RecognitionConfig = RecognitionConfig()
    occupancy: OccupancyConfig = OccupancyConfig()
    push: PushConfig = PushConfig()
    printer: PrinterConfig | None = None  # `[printer]` (agent/config/printer.py)
    playbook: PlaybookConfig = field(default_factory=PlaybookConfig)  # issue 15: suggestions
    alerts: AlertsConfig = field(default_factory=AlertsConfig)
    devices: tuple[DeviceConfig, ...] = ()
    home_assistant: HomeAssistantConfig = HomeAssistantConfig()
    priorities: tuple[PriorityConfig, ...] = ()  # [priorities.NAME], by rank
    appointments: AppointmentsConfig = field(default_factory=AppointmentsConfig)
