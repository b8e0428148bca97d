"""Push subscriptions as stored: one per live ticket, gone when the ticket ends."""

from __future__ import annotations

from datetime import datetime

from agent.core.clock import rfc3339
from agent.core.push import Subscription, b64url_decode, b64url_encode
from agent.store.database import Database


class PushSubscriptions:
    def __init__(self, database: Database) -> None:
        self._database = database

    def save(self, ticket_id: str, subscription: Subscription, now: datetime) -> None:
        """A new subscription for the ticket replaces the old one (the browser renewed it)."""
        self._database.conn.execute(
            "INSERT INTO push_subscriptions(ticket_id, endpoint, p256dh, auth, created_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT(ticket_id) DO UPDATE SET "
            "endpoint = excluded.endpoint, p256dh = excluded.p256dh, auth = excluded.auth, "
            "created_at = excluded.created_at",
            (
                ticket_id,
                subscription.endpoint,
                b64url_encode(subscription.p256dh),
                b64url_encode(subscription.auth),
                rfc3339(now),
            ),
        )

    def get(self, ticket_id: str) -> Subscription | None:
        row = self._database.conn.execute(
            "SELECT endpoint, p256dh, auth FROM push_subscriptions WHERE ticket_id = ?",
            (ticket_id,),
        ).fetchone()
        if row is None:
            return None
        return Subscription(str(row[0]), b64url_decode(str(row[1])), b64url_decode(str(row[2])))

    def delete(self, ticket_id: str) -> int:
        cursor = self._database.conn.execute(
            "DELETE FROM push_subscriptions WHERE ticket_id = ?", (ticket_id,)
        )
        return int(cursor.rowcount)

    def delete_if(self, ticket_id: str, endpoint: str) -> int:
        """The push service said this endpoint is gone (404/410): forget it, unless the
        phone has sent a new one meanwhile."""
        cursor = self._database.conn.execute(
            "DELETE FROM push_subscriptions WHERE ticket_id = ? AND endpoint = ?",
            (ticket_id, endpoint),
        )
        return int(cursor.rowcount)

    def purge(self) -> int:
        """Subscriptions whose ticket is no longer live (a safety net: ending a ticket
        deletes its subscription in the same transaction)."""
        cursor = self._database.conn.execute(
            "DELETE FROM push_subscriptions WHERE ticket_id NOT IN "
            "(SELECT id FROM tickets WHERE state IN ('waiting', 'called'))"
        )
        return int(cursor.rowcount)

    def ticket_ids(self) -> set[str]:
        """Every ticket with a subscription (the push service's index, loaded at start)."""
        rows = self._database.conn.execute("SELECT ticket_id FROM push_subscriptions")
        return {str(row[0]) for row in rows}

    def count(self) -> int:
        return int(
            self._database.conn.execute("SELECT COUNT(*) FROM push_subscriptions").fetchone()[0]
        )
