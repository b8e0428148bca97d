"""Visits and arrival alerts as stored (consenting customers only)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from agent.core.clock import rfc3339
from agent.store.database import Database


@dataclass(frozen=True, slots=True)
class VisitHistory:
    visits: int
    last_visit: str | None  # when the previous visit started (RFC 3339)


@dataclass(frozen=True, slots=True)
class StoredAlert:
    alert_id: str
    customer_id: str
    visit_id: str | None
    via: str
    at: str  # RFC 3339, as stored


class VisitRepository:
    def __init__(self, database: Database) -> None:
        self._database = database

    def arrived(self, visit_id: str, customer_id: str, via: str, at: datetime) -> None:
        self._database.conn.execute(
            "INSERT INTO visits(visit_id, customer_id, via, arrived_at) VALUES (?, ?, ?, ?)",
            (visit_id, customer_id, via, rfc3339(at)),
        )

    def left(self, visit_id: str, at: datetime, dwell_s: float) -> None:
        self._database.conn.execute(
            "UPDATE visits SET left_at = ?, dwell_s = ? WHERE visit_id = ?",
            (rfc3339(at), dwell_s, visit_id),
        )

    def history(
        self, customer_id: str, *, excluding: str | None = None, before: str | None = None
    ) -> VisitHistory:
        """Visits other than ``excluding`` (started before ``before``, RFC 3339, if given):
        what the alert of that visit says about the customer's past visits."""
        count, last = self._database.conn.execute(
            "SELECT COUNT(*), MAX(arrived_at) FROM visits WHERE customer_id = ? "
            "AND visit_id != ? AND (? IS NULL OR arrived_at < ?)",
            (customer_id, excluding or "", before, before),
        ).fetchone()
        return VisitHistory(int(count), last)

    def add_alert(
        self, alert_id: str, customer_id: str, visit_id: str, via: str, at: datetime
    ) -> None:
        self._database.conn.execute(
            "INSERT INTO alerts(alert_id, customer_id, visit_id, via, at) VALUES (?, ?, ?, ?, ?)",
            (alert_id, customer_id, visit_id, via, rfc3339(at)),
        )

    def ack_alert(self, alert_id: str, by: str, at: datetime) -> str | None:
        """Mark taken; returns who took it first (the same alert on every tablet)."""
        conn = self._database.conn
        row = conn.execute("SELECT acked_by FROM alerts WHERE alert_id = ?", (alert_id,)).fetchone()
        if row is None:
            return None
        if row[0] is not None:
            return str(row[0])
        conn.execute(
            "UPDATE alerts SET acked_by = ?, acked_at = ? WHERE alert_id = ?",
            (by, rfc3339(at), alert_id),
        )
        return by

    def alerts_of(self, customer_id: str) -> list[str]:
        """Every alert about the customer still stored, acknowledged or not (a taken alert
        may still be on a tablet's screen). A withdrawn alert is not among them: erase and
        revoke delete the rows in the transaction that reads them."""
        rows = self._database.conn.execute(
            "SELECT alert_id FROM alerts WHERE customer_id = ? ORDER BY at", (customer_id,)
        ).fetchall()
        return [str(r[0]) for r in rows]

    def open_alerts(self, since: datetime) -> list[StoredAlert]:
        """Alerts nobody took yet, raised at or after ``since``, oldest first."""
        rows = self._database.conn.execute(
            "SELECT alert_id, customer_id, visit_id, via, at FROM alerts "
            "WHERE acked_by IS NULL AND at >= ? ORDER BY at",
            (rfc3339(since),),
        ).fetchall()
        return [StoredAlert(str(a), str(c), v, str(via), str(at)) for a, c, v, via, at in rows]

    def erase(self, customer_id: str) -> int:
        """Delete every visit and alert of a customer; returns rows deleted."""
        conn = self._database.conn
        visits = conn.execute("DELETE FROM visits WHERE customer_id = ?", (customer_id,)).rowcount
        alerts = conn.execute("DELETE FROM alerts WHERE customer_id = ?", (customer_id,)).rowcount
        return int(visits) + int(alerts)

    def anonymise(self, customer_id: str) -> None:
        """Consent revoked: keep visits as anonymous counts, drop alerts."""
        conn = self._database.conn
        conn.execute("UPDATE visits SET customer_id = NULL WHERE customer_id = ?", (customer_id,))
        conn.execute("DELETE FROM alerts WHERE customer_id = ?", (customer_id,))

    def purge(self, visits_before: datetime, alerts_before: datetime) -> int:
        conn = self._database.conn
        visits = conn.execute(
            "DELETE FROM visits WHERE arrived_at < ?", (rfc3339(visits_before),)
        ).rowcount
        alerts = conn.execute("DELETE FROM alerts WHERE at < ?", (rfc3339(alerts_before),)).rowcount
        return int(visits) + int(alerts)
