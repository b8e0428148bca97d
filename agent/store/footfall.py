"""Door counters' last values and hourly footfall (anonymous counts only)."""

from __future__ import annotations

from agent.store.database import Database


class FootfallRepository:
    def __init__(self, database: Database) -> None:
        self._database = database

    def last_values(self) -> dict[str, int]:
        rows = self._database.conn.execute("SELECT sensor, last_value FROM footfall_counters")
        return {str(sensor): int(value) for sensor, value in rows.fetchall()}

    def set_last_value(self, sensor: str, value: int) -> None:
        self._database.conn.execute(
            "INSERT INTO footfall_counters(sensor, last_value) VALUES (?, ?) "
            "ON CONFLICT(sensor) DO UPDATE SET last_value = excluded.last_value",
            (sensor, value),
        )

    def add_hourly(self, hour: str, door: str, entered: int, left: int) -> None:
        self._database.conn.execute(
            "INSERT INTO footfall_hours(hour, door, entered, left_) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(hour, door) DO UPDATE SET entered = entered + excluded.entered, "
            "left_ = left_ + excluded.left_",
            (hour, door, entered, left),
        )

    def hours(self, day: str) -> list[tuple[str, int, int]]:
        """(hour, entered, left) for a local day (`YYYY-MM-DD`), all doors together."""
        rows = self._database.conn.execute(
            "SELECT hour, SUM(entered), SUM(left_) FROM footfall_hours WHERE hour LIKE ? "
            "GROUP BY hour ORDER BY hour",
            (f"{day}T%",),
        ).fetchall()
        return [(str(h), int(e), int(o)) for h, e, o in rows]

    def joins_per_hour(self, day: str, offset: str) -> dict[str, int]:
        """Queue joins per local hour (tickets are stored in UTC; ``offset`` like +01:00)."""
        rows = self._database.conn.execute(
            "SELECT strftime('%Y-%m-%dT%H', created_at, ?) AS h, COUNT(*) FROM tickets "
            "GROUP BY h HAVING h LIKE ?",
            (_sqlite_modifier(offset), f"{day}T%"),
        ).fetchall()
        return {str(h): int(n) for h, n in rows}


def _sqlite_modifier(offset: str) -> str:
    sign = -1 if offset.startswith("-") else 1
    hours, _, minutes = offset.lstrip("+-").partition(":")
    return f"{sign * (int(hours) * 60 + int(minutes or 0))} minutes"
