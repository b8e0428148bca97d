"""Device secrets kept in the database's `meta` table."""

from __future__ import annotations

import secrets

from agent.store.database import Database


def window_secret(database: Database) -> bytes:
    """The key that signs window tokens; created once, on first start."""
    value = database.meta("window_secret")
    if value is None:
        value = secrets.token_hex(32)
        with database.atomic():
            database.set_meta("window_secret", value)
    return bytes.fromhex(value)


def static_generation(database: Database, queue: str) -> int:
    value = database.meta(f"window_generation:{queue}")
    return 1 if value is None else int(value)
