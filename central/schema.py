"""The central tables and their migrations, applied by whichever command starts first.

`central_schema_migrations` records each applied version. Several ingest processes may start
at once, so the whole check-and-apply runs under a transaction-scoped advisory lock: the
second process waits, then finds the versions applied and does nothing. Versions are only ever
appended; an applied one is never edited.
"""

from __future__ import annotations

import logging

import psycopg
from psycopg.rows import TupleRow

_LOGGER = logging.getLogger(__name__)

_MIGRATION_LOCK = 0x7265_7461_696C  # "retail": the advisory lock id of schema changes

MIGRATIONS: tuple[tuple[int, str, str], ...] = (
    (
        1,
        "events, per-store progress, holes and known losses",
        """
        CREATE TABLE retail_events (
            store text NOT NULL,
            seq bigint NOT NULL,
            id text NOT NULL,
            type text NOT NULL,
            ts timestamptz NOT NULL,
            data jsonb NOT NULL,
            received_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (store, seq)
        );
        -- The same event (by id) is never stored twice, whatever seq a faulty sender gives it.
        CREATE UNIQUE INDEX retail_events_id ON retail_events (id);
        CREATE TABLE retail_store_progress (
            store text PRIMARY KEY,
            contiguous_seq bigint NOT NULL DEFAULT 0,
            max_seq bigint NOT NULL DEFAULT 0,
            last_received_at timestamptz,
            first_seen_at timestamptz NOT NULL DEFAULT now(),
            state text,
            state_at timestamptz
        );
        CREATE TABLE retail_known_losses (
            store text NOT NULL,
            event_seq bigint NOT NULL,
            from_seq bigint NOT NULL,
            to_seq bigint NOT NULL,
            reason text NOT NULL,
            PRIMARY KEY (store, event_seq)
        );
        CREATE TABLE retail_holes (
            store text NOT NULL,
            from_seq bigint NOT NULL,
            to_seq bigint NOT NULL,
            first_seen_at timestamptz NOT NULL,
            last_asked_at timestamptz,
            asks integer NOT NULL DEFAULT 0,
            PRIMARY KEY (store, from_seq)
        );
        """,
    ),
    (
        2,
        "customer records to publish, and the stores' erase confirmations",
        """
        CREATE TABLE retail_customers (
            customer_id text PRIMARY KEY,
            version bigint NOT NULL CHECK (version >= 0),
            op text NOT NULL CHECK (op IN ('upsert', 'revoke', 'erase')),
            record jsonb NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT now(),
            published_version bigint,
            published_at timestamptz,
            cleared_at timestamptz,
            -- A version the agents' parser would refuse: held back (and logged) until fixed.
            refused_version bigint
        );
        CREATE INDEX retail_customers_unpublished ON retail_customers (updated_at)
            WHERE published_version IS DISTINCT FROM version
              AND refused_version IS DISTINCT FROM version;
        CREATE INDEX retail_events_erased ON retail_events ((data ->> 'customer_id'))
            WHERE type = 'privacy.erased';
        """,
    ),
    (
        3,
        "tail probes: the highest seq a silent store was last asked beyond",
        """
        ALTER TABLE retail_store_progress ADD COLUMN probed_max_seq bigint;
        """,
    ),
    (
        4,
        "tail probes again, backing off: how many probes past probed_max_seq, and the last one",
        """
        ALTER TABLE retail_store_progress ADD COLUMN probes integer NOT NULL DEFAULT 0;
        ALTER TABLE retail_store_progress ADD COLUMN probed_at timestamptz;
        """,
    ),
)


def migrate(conn: psycopg.Connection[TupleRow]) -> list[int]:
    """Apply the versions not yet applied, in order; returns the ones applied now."""
    applied_now: list[int] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS central_schema_migrations ("
            " version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {row[0] for row in conn.execute("SELECT version FROM central_schema_migrations")}
        for version, name, sql in MIGRATIONS:
            if version in done:
                continue
            conn.execute(sql.encode())
            conn.execute(
                "INSERT INTO central_schema_migrations (version, name) VALUES (%s, %s)",
                (version, name),
            )
            applied_now.append(version)
            _LOGGER.info("central schema: applied version %d (%s)", version, name)
    return applied_now


def schema_version(conn: psycopg.Connection[TupleRow]) -> int:
    row = conn.execute("SELECT coalesce(max(version), 0) FROM central_schema_migrations").fetchone()
    return int(row[0]) if row else 0
