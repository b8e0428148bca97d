"""Parse OpenMQTTGateway / Theengs Gateway `BTtoMQTT` JSON (contract §7), strictly.

ESP32 door scanners publish one JSON object per advertisement. Only what the agent needs is
taken: the address, the RSSI and the Eddystone service data. Anything malformed is rejected
(the caller counts it); anything well-formed but not Eddystone is ignored.
"""

from __future__ import annotations

import re
from typing import NamedTuple

import orjson

MAX_PAYLOAD_BYTES = 4096
EDDYSTONE_UUIDS = ("0xfeaa", "feaa", "0000feaa-0000-1000-8000-00805f9b34fb")
# Written out rather than `{2}(?::...){5}`: the same language, matched in half the time.
_MAC = re.compile(":".join(["[0-9A-Fa-f][0-9A-Fa-f]"] * 6))


class MalformedAdvertisement(ValueError):
    """Not a BTtoMQTT advertisement object; dropped and counted."""


class ProxyAdvertisement(NamedTuple):
    # A NamedTuple, not a frozen dataclass: one is made per advertisement, and a frozen
    # dataclass's __init__ was 5 % of the handler path (benchmarks/PROFILE.md).
    address: str
    rssi: int
    service_data: bytes  # the Eddystone (0xFEAA) service data


def parse_bttomqtt(payload: bytes) -> ProxyAdvertisement | None:
    """The Eddystone part of one gateway message; None if it carries no Eddystone data."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise MalformedAdvertisement("payload too large")
    try:
        # orjson, not the json module: it decodes and checks the UTF-8 bytes itself, and it
        # took the parse from ~2.7 to ~0.7 µs of an advertisement (benchmarks/PROFILE.md).
        doc = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:  # bad JSON or bad UTF-8
        raise MalformedAdvertisement(f"not JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise MalformedAdvertisement("not a JSON object")
    address = doc.get("id")
    rssi = doc.get("rssi")
    if not isinstance(address, str) or not _MAC.fullmatch(address):
        raise MalformedAdvertisement("id is not a MAC address")
    if not isinstance(rssi, int) or isinstance(rssi, bool) or not -127 <= rssi <= 20:
        raise MalformedAdvertisement("rssi is not a plausible dBm integer")
    uuid = doc.get("servicedatauuid")
    data = doc.get("servicedata")
    if uuid is None and data is None:
        return None  # an advertisement without service data: not ours
    if not isinstance(uuid, str) or not isinstance(data, str):
        raise MalformedAdvertisement("servicedatauuid/servicedata must be strings")
    if uuid.lower() not in EDDYSTONE_UUIDS:
        return None
    if not 0 < len(data) <= 64:
        raise MalformedAdvertisement("servicedata is not hex")
    try:
        service_data = bytes.fromhex(data)
    except ValueError as exc:
        raise MalformedAdvertisement("servicedata is not hex") from exc
    # fromhex also skips whitespace between bytes: then it returns fewer bytes than the text
    # has pairs. This check and fromhex cost a third of a hex pattern's match.
    if len(service_data) * 2 != len(data):
        raise MalformedAdvertisement("servicedata is not hex")
    return ProxyAdvertisement(address.upper(), rssi, service_data)
