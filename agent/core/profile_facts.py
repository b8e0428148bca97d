"""The customer record's profile as typed facts, and the check of contract 8.8's fields.

`clean_profile` runs when a record is parsed: a contract 8.8 field (`birthday`, `segment`,
`offers`, `first_seen_at`, `visits_90d`) or a basket item that does not have the documented
shape is left out of what the agent stores, instead of refusing the whole record (a bad
birthday must not stop the customer being recognised). `profile_facts` reads a stored profile
into the values the suggestion rules need. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from agent.core.events import JsonValue

BIRTHDAY_PATTERN = re.compile(r"(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])")
_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # 02-29 is a birthday too
MAX_OFFERS = 50
MAX_BASKET_ITEMS = 50
MAX_PREFERENCES = 50
MAX_TEXT = 200  # a title, a label, an item name
MAX_NOTE = 2000
MAX_VISITS = 100_000


@dataclass(frozen=True, slots=True)
class Segment:
    code: str
    label: str


@dataclass(frozen=True, slots=True)
class Offer:
    id: str
    title: str
    until: datetime  # UTC
    conditions: str = ""


@dataclass(frozen=True, slots=True)
class BasketItem:
    name: str
    sku: str = ""
    size: str = ""
    price: float | None = None
    currency: str = ""
    in_stock: bool | None = None  # here, if central says so


@dataclass(frozen=True, slots=True)
class ProfileFacts:
    tier: str | None = None
    segment: Segment | None = None
    birthday: tuple[int, int] | None = None  # (month, day)
    offers: tuple[Offer, ...] = ()
    first_seen_at: datetime | None = None
    visits_90d: int | None = None  # chain-wide
    notes: str = ""
    preferences: tuple[str, ...] = ()
    basket: tuple[BasketItem, ...] = ()


def clean_profile(profile: Mapping[str, JsonValue]) -> dict[str, JsonValue]:
    """The profile with contract 8.8's fields kept only where they have the documented shape
    (offers and basket items one by one); every other key as central sent it."""
    cleaned = dict(profile)
    for key, check in (
        ("birthday", _birthday),
        ("segment", _segment),
        ("first_seen_at", _time),
        ("visits_90d", _visits),
    ):
        if key in cleaned and check(cleaned[key]) is None:
            del cleaned[key]
    if "offers" in cleaned:
        raw = cleaned["offers"]
        offers = raw[:MAX_OFFERS] if isinstance(raw, list) else []
        cleaned["offers"] = [o for o in offers if _offer(o) is not None]
    if "basket" in cleaned:
        raw = cleaned["basket"]
        items = raw[:MAX_BASKET_ITEMS] if isinstance(raw, list) else []
        cleaned["basket"] = [i for i in items if _basket_item(i) is not None]
    return cleaned


def profile_facts(profile: Mapping[str, JsonValue]) -> ProfileFacts:
    """What the rules read; anything absent or malformed is simply not a fact."""
    tier = profile.get("tier")
    notes = profile.get("notes")
    preferences = profile.get("preferences")
    offers = profile.get("offers")
    basket = profile.get("basket")
    return ProfileFacts(
        tier=tier[:MAX_TEXT] if isinstance(tier, str) and tier.strip() else None,
        segment=_segment(profile.get("segment")),
        birthday=_birthday(profile.get("birthday")),
        offers=tuple(
            o for o in (_offer(x) for x in (offers if isinstance(offers, list) else [])) if o
        ),
        first_seen_at=_time(profile.get("first_seen_at")),
        visits_90d=_visits(profile.get("visits_90d")),
        notes=notes.strip()[:MAX_NOTE] if isinstance(notes, str) else "",
        preferences=tuple(
            p.strip()[:MAX_TEXT]
            for p in (preferences if isinstance(preferences, list) else [])[:MAX_PREFERENCES]
            if isinstance(p, str) and p.strip()
        ),
        basket=tuple(
            i for i in (_basket_item(x) for x in (basket if isinstance(basket, list) else [])) if i
        ),
    )


def _text(value: object, limit: int = MAX_TEXT) -> str | None:
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        return None
    return value.strip()


def _birthday(value: object) -> tuple[int, int] | None:
    if not isinstance(value, str):
        return None
    match = BIRTHDAY_PATTERN.fullmatch(value)
    if match is None:
        return None
    month, day = int(match[1]), int(match[2])
    return (month, day) if day <= _DAYS_IN_MONTH[month - 1] else None


def _segment(value: object) -> Segment | None:
    if not isinstance(value, dict):
        return None
    code, label = _text(value.get("code"), 64), _text(value.get("label"))
    return Segment(code, label) if code and label else None


def _time(value: object) -> datetime | None:
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return None if moment.tzinfo is None else moment.astimezone(UTC)


def _visits(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_VISITS:
        return None
    return value


def _offer(value: object) -> Offer | None:
    if not isinstance(value, dict):
        return None
    offer_id, title, until = _text(value.get("id"), 64), _text(value.get("title")), None
    until = _time(value.get("until"))
    if offer_id is None or title is None or until is None:
        return None
    conditions = value.get("conditions", "")
    if not isinstance(conditions, str) or len(conditions) > MAX_TEXT:
        return None
    return Offer(offer_id, title, until, conditions.strip())


def _basket_item(value: object) -> BasketItem | None:
    if not isinstance(value, dict):
        return None
    name = _text(value.get("name"))
    if name is None:
        return None
    price = value.get("price")
    if isinstance(price, bool) or not isinstance(price, int | float) or not 0 <= price < 1e9:
        price = None
    in_stock = value.get("in_stock")
    return BasketItem(
        name=name,
        sku=_text(value.get("sku"), 64) or "",
        size=_text(value.get("size"), 32) or "",
        price=None if price is None else float(price),
        currency=_text(value.get("currency"), 3) or "",
        in_stock=in_stock if isinstance(in_stock, bool) else None,
    )


def without_expired_offers(profile: Mapping[str, JsonValue], now: datetime) -> dict[str, JsonValue]:
    """The profile as an alert may carry it at ``now``: offers past their `until` are gone
    (contract 8.8: an expired offer is never shown anywhere on the alert)."""
    shown = dict(profile)
    offers = shown.get("offers")
    if isinstance(offers, list):
        shown["offers"] = [o for o in offers if (offer := _offer(o)) and offer.until > now]
    return shown
