"""What the suggestion rules read (earlier visits, a live ticket, staff notes) and what they
leave (the suggestions each alert made, and the outcomes staff recorded). Consenting
customers only; every row goes with its alert or its customer record (m010)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from agent.core.clock import rfc3339
from agent.core.events import JsonValue
from agent.core.suggestions import Suggestions
from agent.store.database import Database

CENTRAL_PLAYBOOK_KEY = "central_playbook"  # in `meta`: the last central playbook applied
OutcomeCheck = Literal["recorded", "no_alert", "not_suggested", "already_final"]
_FINAL = ("accepted", "declined")


@dataclass(frozen=True, slots=True)
class TicketRow:
    queue: str
    number: int
    state: str


@dataclass(frozen=True, slots=True)
class StaffNotes:
    notes: tuple[str, ...] = ()
    preferences: tuple[str, ...] = ()


class SuggestionRepository:
    def __init__(self, database: Database) -> None:
        self._database = database

    def visit_times(self, customer_id: str, *, excluding: str, since: datetime) -> list[datetime]:
        rows = self._database.conn.execute(
            "SELECT arrived_at FROM visits WHERE customer_id = ? AND visit_id != ? "
            "AND arrived_at >= ?",
            (customer_id, excluding, rfc3339(since)),
        ).fetchall()
        return [datetime.fromisoformat(str(r[0]).replace("Z", "+00:00")) for r in rows]

    def live_ticket(self, customer_id: str) -> TicketRow | None:
        """The customer's ticket still in a queue (they joined with their pass), if any."""
        row = self._database.conn.execute(
            "SELECT queue, number, state FROM tickets WHERE customer_id = ? "
            "AND state IN ('waiting', 'called') ORDER BY created_at LIMIT 1",
            (customer_id,),
        ).fetchone()
        return None if row is None else TicketRow(str(row[0]), int(row[1]), str(row[2]))

    def staff_notes(self, customer_id: str, *, since: datetime) -> StaffNotes:
        rows = self._database.conn.execute(
            "SELECT kind, text FROM staff_notes WHERE customer_id = ? AND at >= ? ORDER BY id",
            (customer_id, rfc3339(since)),
        ).fetchall()
        return StaffNotes(
            notes=tuple(str(t) for k, t in rows if k == "note"),
            preferences=tuple(str(t) for k, t in rows if k == "preference"),
        )

    def add_staff_note(
        self, customer_id: str, kind: str, text: str, by: str, at: datetime, *, keep_after: datetime
    ) -> None:
        conn = self._database.conn
        conn.execute("DELETE FROM staff_notes WHERE at < ?", (rfc3339(keep_after),))
        conn.execute(
            "INSERT INTO staff_notes(customer_id, kind, text, by, at) VALUES (?, ?, ?, ?, ?)",
            (customer_id, kind, text, by, rfc3339(at)),
        )

    def add(self, alert_id: str, suggestions: Suggestions) -> None:
        rows = [(s, 0) for s in suggestions.shown] + [(s, 1) for s in suggestions.withheld]
        self._database.conn.executemany(
            "INSERT INTO alert_suggestions(alert_id, position, kind, rule, offer_id, withheld, "
            "body) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    alert_id,
                    position,
                    s.kind,
                    s.rule,
                    s.offer_id,
                    withheld,
                    json.dumps(s.as_json(), ensure_ascii=False),
                )
                for position, (s, withheld) in enumerate(rows)
            ],
        )

    def shown(self, alert_ids: list[str]) -> dict[str, list[dict[str, JsonValue]]]:
        """The suggestions each alert showed, in their order (withheld ones never leave)."""
        if not alert_ids:
            return {}
        marks = ",".join("?" * len(alert_ids))
        rows = self._database.conn.execute(
            f"SELECT alert_id, body FROM alert_suggestions WHERE withheld = 0 "  # noqa: S608 - only placeholders
            f"AND alert_id IN ({marks}) ORDER BY alert_id, position",
            alert_ids,
        ).fetchall()
        shown: dict[str, list[dict[str, JsonValue]]] = {}
        for alert_id, body in rows:
            shown.setdefault(str(alert_id), []).append(json.loads(str(body)))
        return shown

    def alert_customer(self, alert_id: str) -> str | None:
        row = self._database.conn.execute(
            "SELECT customer_id FROM alerts WHERE alert_id = ?", (alert_id,)
        ).fetchone()
        return None if row is None else str(row[0])

    def record_outcome(
        self, alert_id: str, kind: str, offer_id: str | None, outcome: str, at: datetime
    ) -> OutcomeCheck:
        """Record what staff did with a suggestion the alert showed. An accepted or declined
        one is final (a second tablet's tap is refused); `offered` may precede either."""
        conn = self._database.conn
        if self.alert_customer(alert_id) is None:
            return "no_alert"
        row = conn.execute(
            "SELECT position, outcome FROM alert_suggestions WHERE alert_id = ? AND kind = ? "
            "AND withheld = 0 AND offer_id IS ? ORDER BY position LIMIT 1",
            (alert_id, kind, offer_id),
        ).fetchone()
        if row is None:
            return "not_suggested"
        position, previous = row
        if previous in _FINAL or previous == outcome:
            return "already_final"
        conn.execute(
            "UPDATE alert_suggestions SET outcome = ?, outcome_at = ? "
            "WHERE alert_id = ? AND position = ?",
            (outcome, rfc3339(at.astimezone(UTC)), alert_id, position),
        )
        return "recorded"

    def central_playbook(self) -> str | None:
        return self._database.meta(CENTRAL_PLAYBOOK_KEY)

    def keep_central_playbook(self, document: str | None) -> None:
        if document is None:
            self._database.conn.execute("DELETE FROM meta WHERE key = ?", (CENTRAL_PLAYBOOK_KEY,))
        else:
            self._database.set_meta(CENTRAL_PLAYBOOK_KEY, document)
