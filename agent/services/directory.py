"""The consenting customers the agent may recognise, in memory, with their credentials.

Built from the database at start and kept in step by the customer service's listener, so a
lookup at the door never touches the disk and a revoke or erase takes effect at once.

Held compactly (benchmarks/customer_memory.py): a customer's profile, which only an arrival
alert or a staff note reads, is kept as its compact JSON text instead of parsed objects (the
parsed dict and lists were ~40 % of a customer's memory), and values every customer shares
(the EID epoch, the rotation exponent) are one object each. `get` rebuilds the record.
"""

from __future__ import annotations

import json
from typing import NamedTuple

from agent.core.customers import CustomerRecord, EidCredential, profile_json


class _Held(NamedTuple):
    version: int
    display_name: str
    consent_staff_profile: bool
    eid: EidCredential | None
    nfc_uids: tuple[str, ...]
    profile_json: bytes | None  # None: no profile (the usual case without staff consent)


class CustomerDirectory:
    def __init__(self) -> None:
        self._held: dict[str, _Held] = {}
        self._by_nfc: dict[str, str] = {}
        self._epochs: dict[int, int] = {}  # most customers share one: one int object each

    def __len__(self) -> int:
        return len(self._held)

    def __contains__(self, customer_id: object) -> bool:
        """Whether this customer consents to recognition now (the sighting path's check)."""
        return customer_id in self._held

    def put(self, record: CustomerRecord, profile_text: str | None = None) -> None:
        """Hold ``record``; ``profile_text``: its `profile_json` if already made."""
        self.remove(record.customer_id)
        if not record.consent_recognition:
            return
        profile: bytes | None = None
        if record.profile:
            text = profile_json(record.profile) if profile_text is None else profile_text
            profile = text.encode()
        self._held[record.customer_id] = _Held(
            record.version,
            record.display_name,
            record.consent_staff_profile,
            self._compact(record.eid),
            record.nfc_uids,
            profile,
        )
        for uid in record.nfc_uids:
            self._by_nfc[uid] = record.customer_id

    def remove(self, customer_id: str) -> None:
        old = self._held.pop(customer_id, None)
        if old is not None:
            for uid in old.nfc_uids:
                if self._by_nfc.get(uid) == customer_id:
                    del self._by_nfc[uid]

    def get(self, customer_id: str) -> CustomerRecord | None:
        """The record, only while the customer consents to recognition."""
        held = self._held.get(customer_id)
        return None if held is None else _record(customer_id, held)

    def by_nfc(self, uid: str) -> str | None:
        return self._by_nfc.get(uid)

    def records(self) -> list[CustomerRecord]:
        return [_record(customer_id, held) for customer_id, held in self._held.items()]

    def credentials(self) -> list[tuple[str, EidCredential]]:
        """(customer, EID credential) of everyone who has one, for the EID table."""
        return [(cid, held.eid) for cid, held in self._held.items() if held.eid is not None]

    def credential(self, customer_id: str) -> EidCredential | None:
        held = self._held.get(customer_id)
        return None if held is None else held.eid

    def _compact(self, eid: EidCredential | None) -> EidCredential | None:
        if eid is None:
            return None
        epoch = self._epochs.setdefault(eid.epoch, eid.epoch)
        if epoch is eid.epoch:
            return eid
        return EidCredential(eid.identity_key, eid.rotation_exponent, epoch)


def _record(customer_id: str, held: _Held) -> CustomerRecord:
    return CustomerRecord(
        customer_id=customer_id,
        version=held.version,
        display_name=held.display_name,
        consent_recognition=True,
        consent_staff_profile=held.consent_staff_profile,
        eid=held.eid,
        nfc_uids=held.nfc_uids,
        profile={} if held.profile_json is None else json.loads(held.profile_json),
    )
