"""Who may be recognised now, and the little the door needs to know about them, in memory.

Built from the database at start and kept in step by the customer service's listener, so the
checks on the sighting path (does this customer consent? whose card is this?) never touch the
disk, and a revoke or erase takes effect at once.

Only what is read per reading or per join is here: consent to recognition (being held at
all), consent to the staff profile, the profile's tier (queue priority at a join) and the
NFC card numbers. The display name and the profile, read only to build an arrival card, are
read from the customers table in that card's transaction (`CustomerRepository.get`). With
them held here (the profile as compact JSON) a customer cost ~550 bytes of this directory
alone; the issue's budget is 600 bytes all told (benchmarks/customer_memory.py). The EID
credentials live in the EID table (agent/core/eid.py), which keeps its own compact copy.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from agent.core.customers import CustomerRecord

_HEX = re.compile(r"[0-9A-F]{1,40}")
_STAFF_PROFILE = 1  # bit 0 of a customer's code; the tier's number is the rest


class CustomerDirectory:
    def __init__(self) -> None:
        # customer -> code: (tier number << 1) | staff-profile consent. Small ints are shared
        # objects, so a customer costs its dict slot and nothing more.
        self._codes: dict[str, int] = {}
        self._tiers: list[str | None] = [None]  # tier number -> tier (a chain has a few)
        self._tier_numbers: dict[str, int] = {}
        self._by_nfc: dict[int, str] = {}
        # Only customers with NFC cards; one card (the usual case) is held without a tuple.
        self._cards: dict[str, int | tuple[int, ...]] = {}

    def __len__(self) -> int:
        return len(self._codes)

    def __contains__(self, customer_id: object) -> bool:
        """Whether this customer consents to recognition now (the sighting path's check)."""
        return customer_id in self._codes

    def __iter__(self) -> Iterator[str]:
        return iter(self._codes)

    def put(self, record: CustomerRecord) -> None:
        self.remove(record.customer_id)
        if not record.consent_recognition:
            return
        code = _STAFF_PROFILE if record.consent_staff_profile else 0
        tier = record.profile.get("tier")
        if isinstance(tier, str):
            code |= self._tier_number(tier) << 1
        self._codes[record.customer_id] = code
        if record.nfc_uids:
            cards = tuple(_card_key(uid) for uid in record.nfc_uids)
            self._cards[record.customer_id] = cards[0] if len(cards) == 1 else cards
            for card in cards:
                self._by_nfc[card] = record.customer_id

    def remove(self, customer_id: str) -> None:
        if self._codes.pop(customer_id, None) is None:
            return
        held = self._cards.pop(customer_id, ())
        for card in (held,) if isinstance(held, int) else held:
            if self._by_nfc.get(card) == customer_id:
                del self._by_nfc[card]

    def by_nfc(self, uid: str) -> str | None:
        if not _HEX.fullmatch(uid):  # int() would also take "_", spaces and a sign
            return None
        return self._by_nfc.get(_card_key(uid))

    def staff_profile(self, customer_id: str) -> bool:
        """Whether this customer is held and consents to staff seeing their profile."""
        return bool(self._codes.get(customer_id, 0) & _STAFF_PROFILE)

    def tier(self, customer_id: str) -> str | None:
        """The profile's tier, only for a customer who consents to the staff profile (the
        priority class it gives shows on the tablets)."""
        code = self._codes.get(customer_id, 0)
        return self._tiers[code >> 1] if code & _STAFF_PROFILE else None

    def _tier_number(self, tier: str) -> int:
        number = self._tier_numbers.get(tier)
        if number is None:
            number = self._tier_numbers[tier] = len(self._tiers)
            self._tiers.append(tier)
        return number


def _card_key(uid: str) -> int:
    """An NFC UID (4, 7 or 10 bytes, as hex) as one integer: ~32 bytes instead of a ~64-byte
    string. The leading 1 keeps UIDs of different lengths apart (00000001 vs 0000000001)."""
    return int("1" + uid, 16)
