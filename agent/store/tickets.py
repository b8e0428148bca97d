"""Tickets as stored: the durable side of the virtual queue."""

from __future__ import annotations

from datetime import datetime

from agent.core.clock import rfc3339
from agent.core.queue import LeftReason, Source, Ticket, TicketState
from agent.store.database import Database

_COLUMNS = (
    "id", "queue", "number", "state", "sort_key", "created_at", "secret_hash", "name",
    "party_size", "locale", "phone", "called_at", "ended_at", "snoozed", "recalls", "called_by",
    "predicted_low_s", "predicted_high_s", "checked_in_at", "customer_id", "approached_at",
    "counter", "left_reason", "source", "undo_state", "walkout_at", "priority",
    "appointment_id", "booked_at",
)  # fmt: skip
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM tickets"  # noqa: S608 - fixed column names


def _ts(moment: datetime | None) -> str | None:
    return None if moment is None else rfc3339(moment)


def _dt(text: object) -> datetime | None:
    return None if text is None else datetime.fromisoformat(str(text))


class TicketRepository:
    def __init__(self, database: Database) -> None:
        self._database = database

    def save(self, ticket: Ticket) -> None:
        values = (
            ticket.id, ticket.queue, ticket.number, ticket.state.value, ticket.sort_key,
            _ts(ticket.created_at), ticket.secret_hash, ticket.name, ticket.party_size,
            ticket.locale, ticket.phone, _ts(ticket.called_at), _ts(ticket.ended_at),
            int(ticket.snoozed), ticket.recalls, ticket.called_by, ticket.predicted_low_s,
            ticket.predicted_high_s, _ts(ticket.checked_in_at), ticket.customer_id,
            _ts(ticket.approached_at), ticket.counter,
            None if ticket.left_reason is None else ticket.left_reason.value,
            ticket.source.value, None if ticket.undo_state is None else ticket.undo_state.value,
            _ts(ticket.walkout_at), ticket.priority, ticket.appointment_id,
            _ts(ticket.booked_at),
        )  # fmt: skip
        placeholders = ", ".join("?" for _ in _COLUMNS)
        updates = ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS[1:])
        self._database.conn.execute(
            f"INSERT INTO tickets({', '.join(_COLUMNS)}) VALUES ({placeholders}) "  # noqa: S608 - fixed column names
            f"ON CONFLICT(id) DO UPDATE SET {updates}",
            values,
        )
        if ticket.customer_id is not None:
            # A ticket links only to a customer the store still holds. A transition decided on
            # the in-memory ticket before an erase or revoke, and committed after it, must not
            # write the link back (the erase's own transaction cleared it).
            self._database.conn.execute(
                "UPDATE tickets SET customer_id = NULL WHERE id = ? AND NOT EXISTS "
                "(SELECT 1 FROM customers WHERE customer_id = ?)",
                (ticket.id, ticket.customer_id),
            )

    def get(self, ticket_id: str) -> Ticket | None:
        row = self._database.conn.execute(f"{_SELECT} WHERE id = ?", (ticket_id,)).fetchone()
        return None if row is None else _ticket(row)

    def active(self) -> list[Ticket]:
        rows = self._database.conn.execute(
            f"{_SELECT} WHERE state IN ('waiting', 'called')"
        ).fetchall()
        return [_ticket(row) for row in rows]

    def recent_served(self, queue: str, limit: int) -> list[Ticket]:
        rows = self._database.conn.execute(
            f"{_SELECT} WHERE queue = ? AND state = 'served' ORDER BY ended_at DESC LIMIT ?",
            (queue, limit),
        ).fetchall()
        return [_ticket(row) for row in reversed(rows)]

    def recent_called(self, queue: str, limit: int) -> list[Ticket]:
        rows = self._database.conn.execute(
            f"{_SELECT} WHERE queue = ? AND called_at IS NOT NULL ORDER BY called_at DESC LIMIT ?",
            (queue, limit),
        ).fetchall()
        return [_ticket(row) for row in reversed(rows)]

    def forget_customer(self, customer_id: str) -> int:
        """Revoke or erase: tickets keep their place in the queue but lose the link."""
        cursor = self._database.conn.execute(
            "UPDATE tickets SET customer_id = NULL WHERE customer_id = ?", (customer_id,)
        )
        return int(cursor.rowcount)

    def next_number(self, queue: str, day: str) -> int:
        """Ticket numbers restart at 1 each store day (local date), per queue."""
        key = f"ticket_number:{queue}"
        current = self._database.meta(key)
        last_day, _, last = (current or "").partition("|")
        number = int(last) + 1 if last_day == day and last else 1
        self._database.set_meta(key, f"{day}|{number}")
        return number

    def purge(self, ended_before: datetime, anonymise_before: datetime) -> int:
        """Retention: drop names of tickets ended long enough ago, delete old rows."""
        conn = self._database.conn
        conn.execute(
            "UPDATE tickets SET name = '', phone = NULL, customer_id = NULL "
            "WHERE ended_at IS NOT NULL AND ended_at < ? "
            "AND (name != '' OR phone IS NOT NULL OR customer_id IS NOT NULL)",
            (rfc3339(anonymise_before),),
        )
        return int(
            conn.execute(
                "DELETE FROM tickets WHERE ended_at IS NOT NULL AND ended_at < ?",
                (rfc3339(ended_before),),
            ).rowcount
        )


def _ticket(row: tuple[object, ...]) -> Ticket:
    r = dict(zip(_COLUMNS, row, strict=True))
    created = datetime.fromisoformat(str(r["created_at"]))
    return Ticket(
        id=str(r["id"]),
        queue=str(r["queue"]),
        number=int(str(r["number"])),
        state=TicketState(str(r["state"])),
        sort_key=float(str(r["sort_key"])),
        created_at=created,
        secret_hash=str(r["secret_hash"]),
        name=str(r["name"]),
        party_size=int(str(r["party_size"])),
        locale=str(r["locale"]),
        phone=None if r["phone"] is None else str(r["phone"]),
        called_at=_dt(r["called_at"]),
        ended_at=_dt(r["ended_at"]),
        snoozed=bool(r["snoozed"]),
        recalls=int(str(r["recalls"])),
        called_by=None if r["called_by"] is None else str(r["called_by"]),
        predicted_low_s=None if r["predicted_low_s"] is None else float(str(r["predicted_low_s"])),
        predicted_high_s=None
        if r["predicted_high_s"] is None
        else float(str(r["predicted_high_s"])),
        checked_in_at=_dt(r["checked_in_at"]),
        customer_id=None if r["customer_id"] is None else str(r["customer_id"]),
        approached_at=_dt(r["approached_at"]),
        counter=None if r["counter"] is None else str(r["counter"]),
        left_reason=None if r["left_reason"] is None else LeftReason(str(r["left_reason"])),
        source=Source(str(r["source"])),
        undo_state=None if r["undo_state"] is None else TicketState(str(r["undo_state"])),
        walkout_at=_dt(r["walkout_at"]),
        priority=None if r["priority"] is None else str(r["priority"]),
        appointment_id=None if r["appointment_id"] is None else str(r["appointment_id"]),
        booked_at=_dt(r["booked_at"]),
    )
