"""The rows the manager view is computed from (agent.core.reports), read in three queries.

Each query reads only the period and only the columns it needs, through an index: tickets
by `created_at` (m010_counter_report_indexes, which covers the columns read), visits by
`arrived_at` and, for each customer's first visit, `visits_customer (customer_id,
arrived_at)`; the hourly footfall table's primary key starts with the hour. Nothing personal
leaves this module: a visit row carries the customer id only so that the service can count
distinct customers.
"""

from __future__ import annotations

from datetime import datetime

from agent.core.clock import rfc3339
from agent.core.reports import TicketRow, VisitRow
from agent.store.database import Database

# An RFC 3339 text column as POSIX seconds, in SQL: parsing 12,000 timestamps into datetime
# objects was half of a 30-day report's time (benchmarks/RESULTS.md, manager view). julianday()
# rather than unixepoch(..., 'subsec'), which needs SQLite 3.42 (Debian bookworm has 3.40);
# a double keeps these to within 0.1 ms.
# (julianday(x) - 2440587.5) * 86400.0 is x in POSIX seconds.
TICKETS_SQL = (
    "SELECT (julianday(created_at) - 2440587.5) * 86400.0, "
    "(julianday(called_at) - 2440587.5) * 86400.0, state, left_reason, predicted_low_s, "
    "predicted_high_s FROM tickets WHERE created_at >= ?"
)
VISITS_SQL = (
    "SELECT v.customer_id, (julianday(v.arrived_at) - 2440587.5) * 86400.0, "
    "(SELECT (julianday(MIN(w.arrived_at)) - 2440587.5) * 86400.0 FROM visits w "
    "WHERE w.customer_id = v.customer_id) "
    "FROM visits v WHERE v.arrived_at >= ? AND v.customer_id IS NOT NULL"
)


class ReportQueries:
    def __init__(self, database: Database) -> None:
        self._database = database

    def hourly_entries(self, first_day: str, last_day: str) -> list[tuple[str, int]]:
        """(local hour, people in, all doors) for the local days first_day..last_day."""
        rows = self._database.conn.execute(
            "SELECT hour, SUM(entered) FROM footfall_hours WHERE hour >= ? AND hour < ? "
            "GROUP BY hour",
            (f"{first_day}T00", f"{last_day}T99"),
        ).fetchall()
        return [(str(hour), int(entered)) for hour, entered in rows]

    def tickets_since(self, since: datetime) -> list[TicketRow]:
        rows = self._database.conn.execute(TICKETS_SQL, (rfc3339(since),)).fetchall()
        return [TicketRow(*row) for row in rows]

    def visits_since(self, since: datetime) -> list[VisitRow]:
        """Visits of customers the store still knows (anonymised visits have no id)."""
        rows = self._database.conn.execute(VISITS_SQL, (rfc3339(since),)).fetchall()
        return [VisitRow(*row) for row in rows]
