"""Device secrets kept in the database's `meta` table."""

from __future__ import annotations

import secrets

from cryptography.hazmat.primitives.asymmetric import ec

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


def vapid_private_key(database: Database) -> bytes:
    """The VAPID signing key (P-256 private value, 32 bytes): created once, on first start,
    so the public key phones subscribed with stays valid across restarts. Never logged."""
    value = database.meta("vapid_private_key")
    if value is None:
        number = ec.generate_private_key(ec.SECP256R1()).private_numbers().private_value
        value = number.to_bytes(32, "big").hex()
        with database.atomic():
            database.set_meta("vapid_private_key", value)
    return bytes.fromhex(value)
