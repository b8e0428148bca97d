"""Made-up customer records for the demo and the tests (never real people)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

FIRST_NAMES = ("Camille", "Léa", "Hugo", "Inès", "Jules", "Manon", "Nathan", "Chloé", "Louis")
TIERS = ("bronze", "silver", "gold")


def demo_customer(
    rng: random.Random, index: int, *, version: int = 1, now: datetime | None = None
) -> dict[str, Any]:
    """A consenting customer with an EID key, an NFC card and a profile of one of the kinds
    `varied_profile` makes (first-timer, birthday, VIP with a basket, regular, plain)."""
    record: dict[str, Any] = {
        "op": "upsert",
        "customer_id": f"c-{index:05d}",
        "version": version,
        "display_name": rng.choice(FIRST_NAMES),
        "consent": {"recognition": True, "staff_profile": rng.random() < 0.8},
        "credentials": {
            "eid": {
                "identity_key": rng.randbytes(16).hex(),
                "rotation_exponent": 10,
                "epoch": 1767225600,
            },
            "nfc_uids": [rng.randbytes(7).hex().upper()],
        },
        "profile": {
            "tier": rng.choice(TIERS),
            "notes": "",
            "preferences": [],
            "basket": [],
        },
    }
    record["profile"] |= varied_profile(index, now or datetime.now(UTC))
    return record


PROFILE_KINDS = ("first_timer", "birthday", "vip", "regular", "plain")


def _at(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def varied_profile(index: int, now: datetime) -> dict[str, Any]:
    """Contract 8.8 profile fields, one kind per index (index % 5, in PROFILE_KINDS order), so
    the demo and the tests show every suggestion: a first-timer with a welcome offer, a
    birthday in two days with one valid and one expired offer, a VIP with an RFM segment, an
    online basket and a birthday three days ago, a regular with notes and preferences, and a
    plain record. Dates are relative to ``now``."""
    kind = PROFILE_KINDS[index % len(PROFILE_KINDS)]
    if kind == "first_timer":
        return {
            "tier": "bronze",
            "first_seen_at": _at(now - timedelta(hours=2)),
            "visits_90d": 0,
            "offers": [
                {
                    "id": "welcome-10",
                    "title": "10 % off the first basket",
                    "until": _at(now + timedelta(days=30)),
                    "conditions": "from 30 €",
                }
            ],
        }
    if kind == "birthday":
        return {
            "tier": "silver",
            "birthday": (now + timedelta(days=2)).strftime("%m-%d"),
            "first_seen_at": _at(now - timedelta(days=400)),
            "visits_90d": 3,
            "offers": [
                {
                    "id": "bday-gift",
                    "title": "A birthday gift",
                    "until": _at(now + timedelta(days=9)),
                },
                {
                    "id": "summer-old",
                    "title": "Summer sale (ended)",
                    "until": _at(now - timedelta(days=1)),
                },
            ],
        }
    if kind == "vip":
        return {
            "tier": "gold",
            "segment": {"code": "R5F5M5", "label": "Champion: buys often, spends most"},
            "birthday": (now - timedelta(days=3)).strftime("%m-%d"),
            "first_seen_at": _at(now - timedelta(days=900)),
            "visits_90d": 11,
            "notes": "Prefers fragrance-free products",
            "preferences": ["green tea", "size M"],
            "basket": [
                {
                    "sku": "RC-50",
                    "name": "Rose face cream",
                    "size": "50 ml",
                    "price": 24.9,
                    "currency": "EUR",
                    "in_stock": True,
                },
                {
                    "sku": "BO-100",
                    "name": "Dry body oil",
                    "size": "100 ml",
                    "price": 19.5,
                    "currency": "EUR",
                    "in_stock": False,
                },
            ],
            "offers": [
                {
                    "id": "vip-duo",
                    "title": "Second cream at half price",
                    "until": _at(now + timedelta(days=5)),
                    "conditions": "VIP members",
                },
                {
                    "id": "old-vip",
                    "title": "Spring VIP evening",
                    "until": _at(now - timedelta(days=20)),
                },
            ],
        }
    if kind == "regular":
        return {
            "tier": "silver",
            "first_seen_at": _at(now - timedelta(days=200)),
            "visits_90d": 7,
            "notes": "Asks for samples",
            "preferences": ["tea"],
        }
    return {"first_seen_at": _at(now - timedelta(days=60)), "visits_90d": 1}


def tombstone(customer_id: str, op: str, version: int) -> dict[str, Any]:
    return {"op": op, "customer_id": customer_id, "version": version}


def demo_playbook(version: int = 1) -> dict[str, Any]:
    """The chain's playbook the simulated central service publishes in the demo (the
    `{p}/chain/playbook` extension, docs/suggestions.md): the default order, a birthday
    campaign with a 10 % holdout and its own words, VIP tiers only."""
    return {
        "version": version,
        "rules": [
            {"kind": "ticket", "priority": 10},
            {
                "id": "birthday-gift",
                "kind": "birthday",
                "priority": 20,
                "campaign": "birthday-gift",
                "holdout_percent": 10,
                "text": {
                    "fr": "Anniversaire le {when} : proposez le cadeau d'anniversaire",
                    "en": "Birthday on {when}: offer the birthday gift",
                },
            },
            {"kind": "first_visit", "priority": 30},
            {"kind": "offer", "priority": 40},
            {"kind": "basket", "priority": 50},
            {"kind": "tier", "priority": 60, "tiers": ["silver", "gold"]},
            {"kind": "segment", "priority": 70},
            {"kind": "frequency", "priority": 80},
            {"kind": "note", "priority": 90},
        ],
    }
