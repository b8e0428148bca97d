"""Made-up customer records for the demo and the tests (never real people)."""

from __future__ import annotations

import random
from typing import Any

FIRST_NAMES = ("Camille", "Léa", "Hugo", "Inès", "Jules", "Manon", "Nathan", "Chloé", "Louis")
TIERS = ("bronze", "silver", "gold")


def demo_customer(rng: random.Random, index: int, *, version: int = 1) -> dict[str, Any]:
    """A consenting customer with an EID key, an NFC card and a small profile."""
    return {
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


def tombstone(customer_id: str, op: str, version: int) -> dict[str, Any]:
    return {"op": op, "customer_id": customer_id, "version": version}
