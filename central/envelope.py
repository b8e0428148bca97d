"""Strict parsing of what arrives on `{p}/stores/{store}/events` (contract §4).

One message is one event envelope or a JSON array of them. Anything that does not parse is
rejected with a reason the ingest counts (and then drops); an envelope whose `store` is not the
store of its topic is rejected too: a store's identity at the broker is its topic, and one
store must not be able to write into another's sequence.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from agent.core.customers import INT64_MAX

MAX_MESSAGE_BYTES = 4 * 1024 * 1024  # a 200-event array is ~60 KiB; far past that is abuse
STORE_ID = re.compile(r"[a-z0-9-]{1,64}")  # the agent's `[store] id` pattern
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})")


@dataclass(frozen=True, slots=True)
class Event:
    """One envelope as it goes into `retail_events`."""

    store: str
    seq: int
    id: str
    type: str
    ts: datetime
    data_json: str  # the `data` object, re-serialised compactly for the jsonb column
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Parsed:
    events: list[Event]
    rejected: dict[str, int]  # reason -> envelopes (or whole messages) dropped


class Rejected(ValueError):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def parse_message(store: str, payload: bytes) -> Parsed:
    """Every valid envelope of one message; the invalid ones counted by reason."""
    rejected: dict[str, int] = {}
    if len(payload) > MAX_MESSAGE_BYTES:
        return Parsed([], {"too_large": 1})
    try:
        doc = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return Parsed([], {"not_json": 1})
    items = doc if isinstance(doc, list) else [doc]
    if not items:
        return Parsed([], {"empty_array": 1})
    events: list[Event] = []
    for item in items:
        try:
            events.append(parse_envelope(store, item))
        except Rejected as exc:
            rejected[exc.reason] = rejected.get(exc.reason, 0) + 1
    return Parsed(events, rejected)


def parse_envelope(store: str, item: object) -> Event:
    if not isinstance(item, dict):
        raise Rejected("not_an_object")
    event_id, seq, event_type = item.get("id"), item.get("seq"), item.get("type")
    if not isinstance(event_id, str) or not 1 <= len(event_id) <= 128:
        raise Rejected("bad_id")
    # bool is an int in Python; `true` is not a sequence number.
    if not isinstance(seq, int) or isinstance(seq, bool) or not 1 <= seq <= INT64_MAX:
        raise Rejected("bad_seq")
    if not isinstance(event_type, str) or not 1 <= len(event_type) <= 64:
        raise Rejected("bad_type")
    if item.get("store") != store:
        raise Rejected("store_mismatch")
    data = item.get("data")
    if not isinstance(data, dict):
        raise Rejected("bad_data")
    return Event(store, seq, event_id, event_type, _timestamp(item.get("ts")), _compact(data), data)


def _timestamp(value: object) -> datetime:
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        raise Rejected("bad_ts")
    try:
        stamp = datetime.fromisoformat(value)
    except ValueError:
        raise Rejected("bad_ts") from None
    if stamp.tzinfo is None:  # the pattern requires an offset; belt and braces
        raise Rejected("bad_ts")
    return stamp


def _compact(data: dict[str, Any]) -> str:
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    # PostgreSQL's jsonb refuses NUL in strings ("unsupported Unicode escape sequence"): such
    # an event would fail the whole batch's transaction, so it is rejected here instead.
    if "\\u0000" in text:
        raise Rejected("nul_in_data")
    return text


def store_of_topic(prefix: str, topic: str) -> str | None:
    """`{p}/stores/{store}/events` -> store, or None for any other topic."""
    head = f"{prefix}/stores/"
    if not topic.startswith(head) or not topic.endswith("/events"):
        return None
    store = topic[len(head) : -len("/events")]
    return store if STORE_ID.fullmatch(store) else None


def subject_of_topic(topic: str) -> str:
    """NATS's MQTT mapping: `/` becomes `.`, a `.` in a topic level becomes `//`."""
    return "".join("." if ch == "/" else "//" if ch == "." else ch for ch in topic)
