"""What recognition adapters deliver to the core: one frozen type per kind of reading.

Raw hardware types (bleak's AdvertisementData, nfcpy tags, OpenCV frames) stop at the adapter;
these carry only what the core needs. `at` is monotonic seconds from the agent's Clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple


class EidSighting(NamedTuple):
    """An Eddystone-EID frame heard by a BLE reader (the agent's radio or an ESP32 proxy).

    A NamedTuple, unlike the other readings: one is made per advertisement (thousands a
    second), and a frozen dataclass's __init__ cost several times a tuple's."""

    eid: bytes  # the 8-byte ephemeral identifier
    rssi: int  # dBm as received
    tx_power: int  # calibrated tx power at 0 m, from the frame
    address: str  # the advertiser's (rotating) MAC address, as text
    reader: str  # which radio heard it, e.g. "bleak:hci0" or "proxy:door-esp32"
    at: float


@dataclass(frozen=True, slots=True)
class NfcTap:
    uid: str  # upper-case hex, no separators
    reader: str
    at: float


@dataclass(frozen=True, slots=True)
class QrScan:
    payload: str  # the decoded text of one QR code
    camera: str
    at: float


@dataclass(frozen=True, slots=True)
class AppCheckin:
    """The brand's app checked in through the central service (contract §4 `checkins`)."""

    customer_id: str
    at_unix: float  # when the app saw the store beacon (from the message)
    at: float


Reading = EidSighting | NfcTap | QrScan | AppCheckin


@dataclass(frozen=True, slots=True)
class FootfallCount:
    """From a door sensor: a cumulative counter value (ESPHome over MQTT) or, with
    `cumulative=False`, a number of people just counted (break-beam pairs on GPIO)."""

    sensor: str  # identifies the counter, e.g. "main:in" or the MQTT topic
    door: str
    direction: str  # "in" | "out"
    value: int
    cumulative: bool
    at: float
