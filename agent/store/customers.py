"""Customer records and tombstones as stored on the device."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from datetime import datetime

from agent.core.clock import rfc3339
from agent.core.customers import CustomerRecord, EidCredential, Tombstone, profile_json
from agent.store.database import Database

# Ids per `IN (...)` query, well under SQLite's limit on bound parameters.
_IN_CHUNK = 500


def tombstone_key(customer_id: str) -> str:
    """Tombstones are keyed by a hash: an erased customer's id is not kept in clear."""
    return hashlib.sha256(customer_id.encode("utf-8")).hexdigest()


class CustomerRepository:
    def __init__(self, database: Database) -> None:
        self._database = database

    def held_version(self, customer_id: str) -> int | None:
        conn = self._database.conn
        row = conn.execute(
            "SELECT version FROM customers WHERE customer_id = ?", (customer_id,)
        ).fetchone()
        if row is not None:
            return int(row[0])
        row = conn.execute(
            "SELECT version FROM customer_tombstones WHERE id_hash = ?",
            (tombstone_key(customer_id),),
        ).fetchone()
        return None if row is None else int(row[0])

    def upsert(self, record: CustomerRecord, now: datetime) -> None:
        self.upsert_many([record], now)

    def upsert_many(
        self,
        records: Sequence[CustomerRecord],
        now: datetime,
        profile_texts: Sequence[str] | None = None,
    ) -> None:
        """Store ``records`` in order (a later one of the same customer wins), clearing any
        tombstone of theirs: two prepared statements run over the whole list, which is what
        makes a resync batch cheap (issue 17). ``profile_texts``: each record's
        `profile_json`, if the caller made them already. Raises at the first record SQLite
        refuses."""
        if not records:
            return
        conn = self._database.conn
        updated_at = rfc3339(now)
        conn.executemany(
            "DELETE FROM customer_tombstones WHERE id_hash = ?",
            [(tombstone_key(record.customer_id),) for record in records],
        )
        conn.executemany(
            """INSERT INTO customers(customer_id, version, display_name, consent_recognition,
                   consent_staff_profile, credentials, profile, updated_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT(customer_id) DO UPDATE SET
                   version = excluded.version, display_name = excluded.display_name,
                   consent_recognition = excluded.consent_recognition,
                   consent_staff_profile = excluded.consent_staff_profile,
                   credentials = excluded.credentials, profile = excluded.profile,
                   updated_at = excluded.updated_at""",
            [_row(record, updated_at, profile_json(record.profile)) for record in records]
            if profile_texts is None
            else [
                _row(record, updated_at, text)
                for record, text in zip(records, profile_texts, strict=True)
            ],
        )

    def forget(self, tombstone: Tombstone, now: datetime) -> int:
        """Delete the customer's record, leave a tombstone; returns personal rows deleted."""
        conn = self._database.conn
        deleted = conn.execute(
            "DELETE FROM customers WHERE customer_id = ?", (tombstone.customer_id,)
        ).rowcount
        conn.execute(
            """INSERT INTO customer_tombstones(id_hash, version, op, at) VALUES (?, ?, ?, ?)
               ON CONFLICT(id_hash) DO UPDATE SET
                   version = excluded.version, op = excluded.op, at = excluded.at""",
            (tombstone_key(tombstone.customer_id), tombstone.version, tombstone.op, rfc3339(now)),
        )
        return int(deleted)

    def get(self, customer_id: str) -> CustomerRecord | None:
        row = self._database.conn.execute(
            """SELECT customer_id, version, display_name, consent_recognition,
                      consent_staff_profile, credentials, profile
               FROM customers WHERE customer_id = ?""",
            (customer_id,),
        ).fetchone()
        return None if row is None else _record(row)

    def all(self) -> list[CustomerRecord]:
        rows = self._database.conn.execute(
            """SELECT customer_id, version, display_name, consent_recognition,
                      consent_staff_profile, credentials, profile FROM customers"""
        ).fetchall()
        return [_record(row) for row in rows]

    def page(self, after: str, limit: int) -> list[CustomerRecord]:
        """Up to ``limit`` records with a customer_id after ``after``, in order: loading a
        store's customers a page at a time keeps only one page of parsed records alive."""
        rows = self._database.conn.execute(
            """SELECT customer_id, version, display_name, consent_recognition,
                      consent_staff_profile, credentials, profile FROM customers
               WHERE customer_id > ? ORDER BY customer_id LIMIT ?""",
            (after, limit),
        ).fetchall()
        return [_record(row) for row in rows]

    def held_versions_of(self, customer_ids: Iterable[str]) -> dict[str, int]:
        """The version held (record or tombstone) of each of ``customer_ids`` that has one:
        two queries for a whole batch instead of two per record."""
        ids = list(customer_ids)
        held: dict[str, int] = {}
        conn = self._database.conn
        for start in range(0, len(ids), _IN_CHUNK):
            chunk = ids[start : start + _IN_CHUNK]
            marks = ",".join("?" * len(chunk))
            by_hash = {tombstone_key(customer_id): customer_id for customer_id in chunk}
            rows = conn.execute(
                f"SELECT id_hash, version FROM customer_tombstones WHERE id_hash IN ({marks})",  # noqa: S608 - placeholders only
                list(by_hash),
            )
            held.update((by_hash[str(key)], int(version)) for key, version in rows)
            rows = conn.execute(
                f"SELECT customer_id, version FROM customers WHERE customer_id IN ({marks})",  # noqa: S608 - placeholders only
                chunk,
            )
            # A record and a tombstone never coexist (upsert deletes it); the record wins.
            held.update((str(customer_id), int(version)) for customer_id, version in rows)
        return held

    def held_versions(self) -> list[tuple[str, int]]:
        """``(id_hash, version)`` of every record and tombstone held, for the manifest digest
        (`agent.core.customer_sync`): records by the hash of their id, as tombstones are."""
        conn = self._database.conn
        held = [
            (tombstone_key(str(customer_id)), int(version))
            for customer_id, version in conn.execute("SELECT customer_id, version FROM customers")
        ]
        held.extend(
            (str(key), int(version))
            for key, version in conn.execute("SELECT id_hash, version FROM customer_tombstones")
        )
        return held

    def count(self) -> int:
        (n,) = self._database.conn.execute("SELECT COUNT(*) FROM customers").fetchone()
        return int(n)


def _row(record: CustomerRecord, updated_at: str, profile: str) -> tuple[object, ...]:
    return (
        record.customer_id,
        record.version,
        record.display_name,
        int(record.consent_recognition),
        int(record.consent_staff_profile),
        _credentials_json(record),
        profile,
        updated_at,
    )


def _credentials_json(record: CustomerRecord) -> str:
    """The credentials as `json.dumps` writes them, formatted directly (a fifth of the cost
    for each of a resync's 20k records): the key is hex and the numbers are ints, so nothing
    needs escaping; the parser admits only hex-digit NFC UIDs, and anything else a caller
    built goes through `json.dumps`."""
    if all(uid.isascii() and uid.isalnum() for uid in record.nfc_uids):
        uids = ", ".join(f'"{uid}"' for uid in record.nfc_uids)
    else:
        uids = json.dumps(list(record.nfc_uids))[1:-1]
    eid = record.eid
    if eid is None:
        return f'{{"eid": null, "nfc_uids": [{uids}]}}'
    return (
        f'{{"eid": {{"identity_key": "{eid.identity_key.hex()}", "rotation_exponent": '
        f'{eid.rotation_exponent}, "epoch": {eid.epoch}}}, "nfc_uids": [{uids}]}}'
    )


def _record(row: tuple[object, ...]) -> CustomerRecord:
    customer_id, version, name, recognition, staff_profile, credentials_json, profile_json = row
    credentials = json.loads(str(credentials_json))
    eid_raw = credentials.get("eid")
    eid = (
        None
        if eid_raw is None
        else EidCredential(
            identity_key=bytes.fromhex(eid_raw["identity_key"]),
            rotation_exponent=int(eid_raw["rotation_exponent"]),
            epoch=int(eid_raw["epoch"]),
        )
    )
    return CustomerRecord(
        customer_id=str(customer_id),
        version=int(str(version)),
        display_name=str(name),
        consent_recognition=bool(recognition),
        consent_staff_profile=bool(staff_profile),
        eid=eid,
        nfc_uids=tuple(credentials.get("nfc_uids", [])),
        profile=json.loads(str(profile_json)),
    )
