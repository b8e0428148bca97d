"""The day's appointments as stored (issue 14): the central service's list, and what became
of each booking here (checked in with its ticket, no-show, cancelled)."""

from __future__ import annotations

import hashlib
from datetime import datetime

from agent.core.appointments import Appointment, AppointmentDay, AppointmentStatus
from agent.core.clock import rfc3339
from agent.store.database import Database

_COLUMNS = "id, queue, at, name, party_size, customer_id, status"


def code_hash(code: str) -> str:
    return hashlib.sha256(code.encode("utf-8")).hexdigest()


def _version_key(day: str) -> str:
    return f"appointments_version:{day}"


class AppointmentRepository:
    def __init__(self, database: Database) -> None:
        self._database = database

    def replace_day(self, content: AppointmentDay) -> bool:
        """Apply a day list newer than the one held (False: not newer, ignored). Bookings
        missing from it, or marked cancelled, are cancelled; what already happened to a
        booking here (checked in, no-show) stays as it is."""
        held = self._database.meta(_version_key(content.day))
        if held is not None and int(held) >= content.version:
            return False
        conn = self._database.conn
        listed = {a.id for a in content.appointments}
        for a in content.appointments:
            conn.execute(
                "INSERT INTO appointments(id, day, queue, at, name, party_size, customer_id, "
                "code_hash, status, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET day = excluded.day, queue = excluded.queue, "
                "at = excluded.at, name = excluded.name, party_size = excluded.party_size, "
                "customer_id = excluded.customer_id, code_hash = excluded.code_hash, "
                "version = excluded.version, status = CASE WHEN appointments.status IN "
                "('checked_in', 'no_show') THEN appointments.status ELSE excluded.status END",
                (
                    a.id, content.day, a.queue, rfc3339(a.at), a.name, a.party_size,
                    a.customer_id, None if a.checkin_code is None else code_hash(a.checkin_code),
                    a.status.value, content.version,
                ),
            )  # fmt: skip
        for (ident,) in conn.execute(
            "SELECT id FROM appointments WHERE day = ? AND status = 'booked'", (content.day,)
        ).fetchall():
            if ident not in listed:
                conn.execute("UPDATE appointments SET status = 'cancelled' WHERE id = ?", (ident,))
        self._database.set_meta(_version_key(content.day), str(content.version))
        return True

    def booked(self, day: str) -> list[Appointment]:
        """The day's bookings still expected (not checked in, cancelled or no-show)."""
        rows = self._database.conn.execute(
            f"SELECT {_COLUMNS} FROM appointments WHERE day = ? AND status = 'booked' "  # noqa: S608 - fixed columns
            "ORDER BY at",
            (day,),
        ).fetchall()
        return [_appointment(row) for row in rows]

    def by_code(self, code: str) -> Appointment | None:
        row = self._database.conn.execute(
            f"SELECT {_COLUMNS} FROM appointments WHERE code_hash = ?",  # noqa: S608 - fixed columns
            (code_hash(code),),
        ).fetchone()
        return None if row is None else _appointment(row)

    def get(self, ident: str) -> Appointment | None:
        row = self._database.conn.execute(
            f"SELECT {_COLUMNS} FROM appointments WHERE id = ?",  # noqa: S608 - fixed columns
            (ident,),
        ).fetchone()
        return None if row is None else _appointment(row)

    def mark(self, ident: str, status: AppointmentStatus, ticket_id: str | None = None) -> None:
        self._database.conn.execute(
            "UPDATE appointments SET status = ?, ticket_id = COALESCE(?, ticket_id) WHERE id = ?",
            (status.value, ticket_id, ident),
        )

    def forget_customer(self, customer_id: str, *, erase: bool) -> int:
        """Revoke: bookings keep their slot but lose the link to the customer (no recognition
        check-in). Erase: the name goes too (the check-in code still works: the slot was
        booked, and central republishes the list without them if it cancels it)."""
        name = "name = '', " if erase else ""
        cursor = self._database.conn.execute(
            f"UPDATE appointments SET {name}customer_id = NULL WHERE customer_id = ?",  # noqa: S608 - fixed text
            (customer_id,),
        )
        return int(cursor.rowcount)

    def purge(self, before_day: str) -> int:
        """Retention: a day's list and what became of it, gone once the day is over."""
        conn = self._database.conn
        deleted = conn.execute("DELETE FROM appointments WHERE day < ?", (before_day,)).rowcount
        conn.execute(
            "DELETE FROM meta WHERE key LIKE 'appointments_version:%' AND key < ?",
            (_version_key(before_day),),
        )
        return int(deleted)


def _appointment(row: tuple[object, ...]) -> Appointment:
    ident, queue, at, name, party, customer_id, status = row
    return Appointment(
        id=str(ident),
        queue=str(queue),
        at=datetime.fromisoformat(str(at)),
        name=str(name),
        party_size=int(str(party)),
        customer_id=None if customer_id is None else str(customer_id),
        status=AppointmentStatus(str(status)),
    )
