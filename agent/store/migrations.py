"""Schema migrations, applied in order at start. Never edit one that has shipped: add another."""

from __future__ import annotations

import sqlite_utils
from sqlite_utils.migrations import Migrations

MIGRATIONS = Migrations("retail-edge")


@MIGRATIONS()
def m001_platform(db: sqlite_utils.Database) -> None:
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    # The durable outbox: `body` is the full contract envelope, fixed at append time so a
    # retransmission is byte-identical (same id, seq and ts).
    db.execute(
        """CREATE TABLE outbox (
            seq INTEGER PRIMARY KEY,
            event_id TEXT NOT NULL UNIQUE,
            type TEXT NOT NULL,
            created_at REAL NOT NULL,
            body TEXT NOT NULL
        )"""
    )
    # Customers who consented, as the central service sent them (personal data: see
    # docs/privacy.md). Revoked or erased customers leave only a tombstone row below.
    db.execute(
        """CREATE TABLE customers (
            customer_id TEXT PRIMARY KEY,
            version INTEGER NOT NULL,
            display_name TEXT NOT NULL,
            consent_recognition INTEGER NOT NULL,
            consent_staff_profile INTEGER NOT NULL,
            credentials TEXT NOT NULL,
            profile TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )"""
    )
    # Tombstones keep only a hash of the id and the version, so that a stale record replayed
    # later cannot bring a forgotten customer back.
    db.execute(
        """CREATE TABLE customer_tombstones (
            id_hash TEXT PRIMARY KEY,
            version INTEGER NOT NULL,
            op TEXT NOT NULL,
            at TEXT NOT NULL
        )"""
    )


@MIGRATIONS()
def m002_queue(db: sqlite_utils.Database) -> None:
    # Tickets. Personal fields: name (optional first name) and phone (only with SMS consent;
    # cleared when the ticket ends). Rows are purged after the retention period.
    db.execute(
        """CREATE TABLE tickets (
            id TEXT PRIMARY KEY,
            queue TEXT NOT NULL,
            number INTEGER NOT NULL,
            state TEXT NOT NULL,
            sort_key REAL NOT NULL,
            created_at TEXT NOT NULL,
            secret_hash TEXT NOT NULL,
            name TEXT NOT NULL DEFAULT '',
            party_size INTEGER NOT NULL DEFAULT 1,
            locale TEXT NOT NULL DEFAULT 'en',
            phone TEXT,
            called_at TEXT,
            ended_at TEXT,
            snoozed INTEGER NOT NULL DEFAULT 0,
            recalls INTEGER NOT NULL DEFAULT 0,
            called_by TEXT,
            predicted_low_s REAL,
            predicted_high_s REAL
        )"""
    )
    db.execute("CREATE INDEX tickets_active ON tickets(queue, state)")
    db.execute("CREATE INDEX tickets_ended ON tickets(ended_at)")
    # Staff tablets: only a hash of each device token is kept.
    db.execute(
        """CREATE TABLE staff_devices (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            token_hash TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL,
            last_seen_at TEXT,
            revoked_at TEXT
        )"""
    )
    db.execute(
        """CREATE TABLE pairing_codes (
            code_hash TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            expires_at REAL NOT NULL,
            used_at REAL
        )"""
    )


@MIGRATIONS()
def m003_recognition(db: sqlite_utils.Database) -> None:
    # Visits of consenting customers (recognised at the door, by tap, pass or app). Erased
    # with the customer; anonymised (customer_id NULL) on revoke; purged after retention.
    db.execute(
        """CREATE TABLE visits (
            visit_id TEXT PRIMARY KEY,
            customer_id TEXT,
            via TEXT NOT NULL,
            arrived_at TEXT NOT NULL,
            left_at TEXT,
            dwell_s REAL
        )"""
    )
    db.execute("CREATE INDEX visits_customer ON visits(customer_id, arrived_at)")
    db.execute("CREATE INDEX visits_arrived ON visits(arrived_at)")
    # Arrival alerts shown on tablets, and who took care of them.
    db.execute(
        """CREATE TABLE alerts (
            alert_id TEXT PRIMARY KEY,
            customer_id TEXT NOT NULL,
            visit_id TEXT,
            via TEXT NOT NULL,
            at TEXT NOT NULL,
            acked_by TEXT,
            acked_at TEXT
        )"""
    )
    db.execute("CREATE INDEX alerts_customer ON alerts(customer_id)")


@MIGRATIONS()
def m004_footfall(db: sqlite_utils.Database) -> None:
    # The last value of each cumulative door counter, so a restart of the agent does not
    # count a node's whole history again (contract §2). No personal data.
    db.execute(
        "CREATE TABLE footfall_counters (sensor TEXT PRIMARY KEY, last_value INTEGER NOT NULL)"
    )
    # Anonymous hourly counts per door (local hour), for the staff page and conversion.
    db.execute(
        """CREATE TABLE footfall_hours (
            hour TEXT NOT NULL,
            door TEXT NOT NULL,
            entered INTEGER NOT NULL DEFAULT 0,
            left_ INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (hour, door)
        )"""
    )


@MIGRATIONS()
def m005_sent_log(db: sqlite_utils.Database) -> None:
    # Events the broker acknowledged, kept for a bounded time so the central side can ask for
    # them again if a broker lost them after its PUBACK (a restart without persistence).
    # Same columns as the outbox so a resend moves rows back unchanged (byte-identical body).
    db.execute(
        """CREATE TABLE outbox_sent (
            seq INTEGER PRIMARY KEY,
            event_id TEXT NOT NULL,
            type TEXT NOT NULL,
            created_at REAL NOT NULL,
            body TEXT NOT NULL,
            acked_at REAL NOT NULL
        )"""
    )
    db.execute("CREATE INDEX outbox_sent_acked ON outbox_sent(acked_at)")


@MIGRATIONS()
def m006_ticket_checkin(db: sqlite_utils.Database) -> None:
    # When the ticket holder was seen at the door, and (only for customers who joined with
    # their loyalty pass, i.e. consented to recognition) who they are; see docs/privacy.md.
    db.execute("ALTER TABLE tickets ADD COLUMN checked_in_at TEXT")
    db.execute("ALTER TABLE tickets ADD COLUMN customer_id TEXT")
    db.execute("CREATE INDEX tickets_customer ON tickets(customer_id)")


@MIGRATIONS()
def m007_push_and_approaching(db: sqlite_utils.Database) -> None:
    # Issue 13 (Web Push, "almost your turn"). When a ticket was told it is almost its turn,
    # so a restart does not tell it again (contract 8.6: once per ticket).
    db.execute("ALTER TABLE tickets ADD COLUMN approached_at TEXT")
    # The phone's push subscription for a live ticket (personal data: the endpoint
    # identifies the browser). Deleted with the ticket's end in the same transaction, and by
    # the purge if anything was left behind (docs/privacy.md).
    db.execute(
        """CREATE TABLE push_subscriptions (
            ticket_id TEXT PRIMARY KEY,
            endpoint TEXT NOT NULL,
            p256dh TEXT NOT NULL,
            auth TEXT NOT NULL,
            created_at TEXT NOT NULL
        )"""
    )


@MIGRATIONS()
def m008_device_roles(db: sqlite_utils.Database) -> None:
    # Contract 8.1: a paired device is a staff tablet or a display (window screen, board); the
    # role travels from the pairing code to the device it pairs. Devices paired before this
    # were all tablets, hence the default.
    db.execute("ALTER TABLE pairing_codes ADD COLUMN role TEXT NOT NULL DEFAULT 'staff'")
    db.execute("ALTER TABLE staff_devices ADD COLUMN role TEXT NOT NULL DEFAULT 'staff'")


@MIGRATIONS()
def m009_staff_actions(db: sqlite_utils.Database) -> None:
    # Contract 8.7 (issue 14). The counter a ticket was called to; why it left; whether a
    # phone or staff made it (existing tickets all came from the window). `undo_state` is the
    # state before the last staff transition (for undo within 60 s); `walkout_at` when the
    # ticket walks out because its holder's visit ended (cleared if they are seen again).
    db.execute("ALTER TABLE tickets ADD COLUMN counter TEXT")
    db.execute("ALTER TABLE tickets ADD COLUMN left_reason TEXT")
    db.execute("ALTER TABLE tickets ADD COLUMN source TEXT NOT NULL DEFAULT 'window'")
    db.execute("ALTER TABLE tickets ADD COLUMN undo_state TEXT")
    db.execute("ALTER TABLE tickets ADD COLUMN walkout_at TEXT")


@MIGRATIONS()
def m010_counter_report_indexes(db: sqlite_utils.Database) -> None:
    # Issue 14's manager view reads the last 7 or 30 days of tickets by creation time. The
    # index covers every column the report reads, so a period is one range of the index and
    # no table lookups: measured (benchmarks/manager_report.py) against a plain
    # tickets(created_at) index, which made the 30-day read slower than a full scan.
    db.execute(
        "CREATE INDEX IF NOT EXISTS tickets_created ON tickets(created_at, called_at, state, "
        "left_reason, predicted_low_s, predicted_high_s)"
    )


@MIGRATIONS()
def m010_alerts_suggestions(db: sqlite_utils.Database) -> None:
    # Issue 15 (contract 8.8). The suggestions each arrival alert made, as the tablet showed
    # them (`body`, JSON), the holdout's withheld ones (never shown) and what staff recorded
    # (`outcome`). Personal data: they go with their alert (erase, revoke, retention purge)
    # through the foreign key, so every path that deletes an alert deletes them too.
    db.execute(
        """CREATE TABLE alert_suggestions (
            alert_id TEXT NOT NULL REFERENCES alerts(alert_id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            kind TEXT NOT NULL,
            rule TEXT NOT NULL,
            offer_id TEXT,
            withheld INTEGER NOT NULL,
            body TEXT NOT NULL,
            outcome TEXT,
            outcome_at TEXT,
            PRIMARY KEY (alert_id, position)
        )"""
    )
    # Notes and preferences staff recorded at the counter (issue 14), shown on the customer's
    # next visits until central's record carries them. Deleted with the customer's record
    # (erase, revoke, recognition consent withdrawn: foreign key) and as soon as the record
    # says staff may no longer see the profile (trigger, which takes the alerts' suggestions
    # with them: they were read from the profile); older than the visit retention,
    # purged when the next one is written.
    db.execute(
        """CREATE TABLE staff_notes (
            id INTEGER PRIMARY KEY,
            customer_id TEXT NOT NULL REFERENCES customers(customer_id) ON DELETE CASCADE,
            kind TEXT NOT NULL,
            text TEXT NOT NULL,
            by TEXT NOT NULL,
            at TEXT NOT NULL
        )"""
    )
    db.execute("CREATE INDEX staff_notes_customer ON staff_notes(customer_id, at)")
    db.execute(
        """CREATE TRIGGER staff_notes_consent_withdrawn
           AFTER UPDATE OF consent_staff_profile ON customers
           WHEN NEW.consent_staff_profile = 0
           BEGIN
               DELETE FROM staff_notes WHERE customer_id = NEW.customer_id;
               DELETE FROM alert_suggestions WHERE alert_id IN
                   (SELECT alert_id FROM alerts WHERE customer_id = NEW.customer_id);
           END"""
    )


@MIGRATIONS()
def m010_queue_priorities_appointments(db: sqlite_utils.Database) -> None:
    # Issue 14. A waiting ticket's priority class (`[priorities.NAME]`), and for a ticket made
    # from a booked appointment, the appointment and its booked time (its place in the queue
    # follows from them while it is on time; docs/queue.md).
    db.execute("ALTER TABLE tickets ADD COLUMN priority TEXT")
    db.execute("ALTER TABLE tickets ADD COLUMN appointment_id TEXT")
    db.execute("ALTER TABLE tickets ADD COLUMN booked_at TEXT")
    # The day's appointments from the central service's retained list (docs/sync.md). Holds a
    # name and maybe a customer id: purged with the day (docs/privacy.md). The check-in code
    # is kept hashed: the database alone must not let anyone check in as someone else.
    db.execute(
        """CREATE TABLE appointments (
            id TEXT PRIMARY KEY,
            day TEXT NOT NULL,
            queue TEXT NOT NULL,
            at TEXT NOT NULL,
            name TEXT NOT NULL DEFAULT '',
            party_size INTEGER NOT NULL DEFAULT 1,
            customer_id TEXT,
            code_hash TEXT,
            status TEXT NOT NULL,
            version INTEGER NOT NULL,
            ticket_id TEXT
        )"""
    )
    db.execute("CREATE INDEX appointments_day ON appointments(day, at)")
