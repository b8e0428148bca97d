"""The consenting customers the agent may recognise, in memory, with their credentials.

Built from the database at start and kept in step by the customer service's listener, so a
lookup at the door never touches the disk and a revoke or erase takes effect at once.
"""

from __future__ import annotations

from agent.core.customers import CustomerRecord


class CustomerDirectory:
    def __init__(self) -> None:
        self._records: dict[str, CustomerRecord] = {}
        self._by_nfc: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self._records)

    def put(self, record: CustomerRecord) -> None:
        self.remove(record.customer_id)
        if not record.consent_recognition:
            return
        self._records[record.customer_id] = record
        for uid in record.nfc_uids:
            self._by_nfc[uid] = record.customer_id

    def remove(self, customer_id: str) -> None:
        old = self._records.pop(customer_id, None)
        if old is not None:
            for uid in old.nfc_uids:
                if self._by_nfc.get(uid) == customer_id:
                    del self._by_nfc[uid]

    def get(self, customer_id: str) -> CustomerRecord | None:
        """The record, only while the customer consents to recognition."""
        record = self._records.get(customer_id)
        return record if record is not None and record.consent_recognition else None

    def by_nfc(self, uid: str) -> str | None:
        return self._by_nfc.get(uid)

    def records(self) -> list[CustomerRecord]:
        return list(self._records.values())
