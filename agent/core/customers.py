"""Customer records and tombstones from the central account service (contract §4).

Parsing is strict: anything that does not match the contract is rejected with a reason, and
the caller drops it (and counts it). Nothing here touches storage.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import orjson

from agent.core.events import JsonValue
from agent.core.profile_facts import clean_profile

MAX_PAYLOAD_BYTES = 64 * 1024
# SQLite's INTEGER is 64-bit signed; a larger number would raise OverflowError when stored
# (contract §8.3: any number size is a counted drop), so it is refused at parse time.
INT64_MAX = 2**63 - 1
CUSTOMER_ID_PATTERN = re.compile(r"[A-Za-z0-9._:-]{1,128}")
NFC_UID_PATTERN = re.compile(r"(?:[0-9A-F]{8}|[0-9A-F]{14}|[0-9A-F]{20})")  # 4, 7 or 10 bytes


class MalformedMessage(ValueError):
    """A payload that does not follow the contract; dropped and counted, never fatal."""


@dataclass(frozen=True, slots=True)
class EidCredential:
    identity_key: bytes  # 16 bytes
    rotation_exponent: int  # K: the EID changes every 2**K seconds
    epoch: int  # unix time the customer's time counter starts at


@dataclass(frozen=True, slots=True)
class CustomerRecord:
    customer_id: str
    version: int
    display_name: str
    consent_recognition: bool
    consent_staff_profile: bool
    eid: EidCredential | None = None
    nfc_uids: tuple[str, ...] = ()
    profile: dict[str, JsonValue] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Tombstone:
    op: Literal["revoke", "erase"]
    customer_id: str
    version: int


CustomerMessage = CustomerRecord | Tombstone


def parse_customer_message(payload: bytes, topic_customer_id: str) -> CustomerMessage:
    """Parse one message from `{p}/chain/customers/{customer_id}`."""
    return customer_message_from_doc(
        json_object(payload, MAX_PAYLOAD_BYTES, "customer record"), topic_customer_id
    )


def customer_message_from_doc(doc: dict[str, object], topic_customer_id: str) -> CustomerMessage:
    """Check an already decoded customer message (also the records of a resync page)."""
    customer_id = _str(doc, "customer_id")
    if not CUSTOMER_ID_PATTERN.fullmatch(customer_id):
        raise MalformedMessage("customer_id has an unexpected form")
    if customer_id != topic_customer_id:
        raise MalformedMessage("customer_id does not match the topic")
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or not 0 <= version <= INT64_MAX:
        raise MalformedMessage("version must be a non-negative 64-bit integer")
    op = doc.get("op")
    if op in ("revoke", "erase"):
        return Tombstone(op=op, customer_id=customer_id, version=version)
    if op != "upsert":
        raise MalformedMessage(f"unknown op {op!r}")
    consent = doc.get("consent", {})
    if not isinstance(consent, dict):
        raise MalformedMessage("consent must be an object")
    credentials = doc.get("credentials", {})
    if not isinstance(credentials, dict):
        raise MalformedMessage("credentials must be an object")
    profile = doc.get("profile", {})
    if not isinstance(profile, dict):
        raise MalformedMessage("profile must be an object")
    display_name = doc.get("display_name", "")
    if not isinstance(display_name, str) or len(display_name) > 200:
        raise MalformedMessage("display_name must be a string of at most 200 characters")
    return CustomerRecord(
        customer_id=customer_id,
        version=version,
        display_name=display_name,
        consent_recognition=_flag(consent, "recognition"),
        consent_staff_profile=_flag(consent, "staff_profile"),
        eid=_eid(credentials.get("eid")),
        nfc_uids=_nfc_uids(credentials.get("nfc_uids", [])),
        # Contract 8.8's fields are kept only in their documented shape (issue 15).
        profile=clean_profile(profile),
    )


def profile_json(profile: dict[str, JsonValue]) -> str:
    """A profile as compact JSON text (UTF-8 as is, no spaces), encoded once per change: a
    resync stores 20k records in a burst. orjson encodes it ~4x faster than the json module;
    a cleaned profile (`clean_profile`) holds only what JSON parsing gave."""
    return orjson.dumps(profile).decode()


def is_newer(incoming_version: int, held_version: int | None) -> bool:
    """A record whose version is not newer than the one held is ignored (contract §4)."""
    return held_version is None or incoming_version > held_version


def _str(doc: dict[str, object], key: str) -> str:
    value = doc.get(key)
    if not isinstance(value, str):
        raise MalformedMessage(f"{key} must be a string")
    return value


def _flag(consent: dict[str, object], key: str) -> bool:
    value = consent.get(key, False)
    if not isinstance(value, bool):
        raise MalformedMessage(f"consent.{key} must be true or false")
    return value


def _eid(raw: object) -> EidCredential | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise MalformedMessage("credentials.eid must be an object")
    key_hex = raw.get("identity_key")
    if not isinstance(key_hex, str) or not re.fullmatch(r"[0-9a-fA-F]{32}", key_hex):
        raise MalformedMessage("credentials.eid.identity_key must be 32 hex digits")
    exponent = raw.get("rotation_exponent")
    if not isinstance(exponent, int) or isinstance(exponent, bool) or not 0 <= exponent <= 15:
        raise MalformedMessage("credentials.eid.rotation_exponent must be an integer 0-15")
    epoch = raw.get("epoch")
    if not isinstance(epoch, int) or isinstance(epoch, bool) or not 0 <= epoch <= INT64_MAX:
        raise MalformedMessage("credentials.eid.epoch must be a non-negative 64-bit integer")
    return EidCredential(
        identity_key=bytes.fromhex(key_hex), rotation_exponent=exponent, epoch=epoch
    )


def _nfc_uids(raw: object) -> tuple[str, ...]:
    if not isinstance(raw, list) or len(raw) > 16:
        raise MalformedMessage("credentials.nfc_uids must be an array of at most 16 UIDs")
    uids = []
    for item in raw:
        uid = item.upper().replace(":", "") if isinstance(item, str) else ""
        if not NFC_UID_PATTERN.fullmatch(uid):
            raise MalformedMessage("credentials.nfc_uids holds something that is not a UID")
        uids.append(uid)
    return tuple(uids)


def json_object(payload: bytes, max_bytes: int, what: str) -> dict[str, object]:
    """A small inbound MQTT message that must be one JSON object, or MalformedMessage."""
    if len(payload) > max_bytes:
        raise MalformedMessage(f"{what}: {len(payload)} bytes exceeds {max_bytes}")
    try:
        # orjson: a resync parses 20k records in a burst, and the json module's decode was
        # half of the parse (benchmarks/PROFILE.md). It refuses what json would have refused
        # (bad UTF-8, nesting past 1 024) with the same error type; an integer beyond 64 bits
        # becomes a float, which every integer field here refuses.
        doc = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:  # bad JSON, bad UTF-8, nested too deeply
        raise MalformedMessage(f"not JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise MalformedMessage("not a JSON object")
    return doc


@dataclass(frozen=True, slots=True)
class Checkin:
    customer_id: str
    at_unix: float


def parse_checkin(payload: bytes) -> Checkin:
    """`{"customer_id": "...", "at": "<RFC 3339>"}` from `{p}/stores/{store}/checkins`."""
    doc = json_object(payload, 4096, "check-in")
    customer_id = _str(doc, "customer_id")
    if not CUSTOMER_ID_PATTERN.fullmatch(customer_id):
        raise MalformedMessage("customer_id has an unexpected form")
    at_text = _str(doc, "at")
    try:
        at = datetime.fromisoformat(at_text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise MalformedMessage("at is not an RFC 3339 time") from exc
    if at.tzinfo is None:
        raise MalformedMessage("at has no time zone")
    return Checkin(customer_id, at.timestamp())
