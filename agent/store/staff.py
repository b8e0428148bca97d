"""Paired devices (staff tablets and displays): one-time pairing codes and revocable device
tokens (hashes only)."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

from agent.core.clock import rfc3339
from agent.store.database import Database

PAIRING_CODE_TTL_S = 600
STAFF = "staff"
DISPLAY = "display"  # a window screen or an in-store board: display pages only (contract 8.1)
# A tablet that also opens the manager view (/manager, /api/v1/manager/*); everything a staff
# tablet does it does too. An extension of contract 8.1's roles (docs/counter.md).
MANAGER = "manager"
ROLES = (STAFF, DISPLAY, MANAGER)
_SELECT = "SELECT id, name, created_at, last_seen_at, revoked_at, role FROM staff_devices"


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class StaffDevice:
    id: str
    name: str
    created_at: str
    last_seen_at: str | None
    revoked_at: str | None
    role: str = STAFF


class StaffRepository:
    def __init__(self, database: Database) -> None:
        self._database = database

    def create_pairing_code(self, name: str, now: datetime, role: str = STAFF) -> str:
        """A fresh 6-digit code, valid 10 minutes, usable once, pairing a device of ``role``."""
        if role not in ROLES:
            raise ValueError(f"unknown device role {role!r}")
        conn = self._database.conn
        conn.execute("DELETE FROM pairing_codes WHERE expires_at < ?", (now.timestamp(),))
        while True:
            code = f"{secrets.randbelow(1_000_000):06d}"
            if (
                conn.execute(
                    "SELECT 1 FROM pairing_codes WHERE code_hash = ?", (_hash(code),)
                ).fetchone()
                is None
            ):
                break
        conn.execute(
            "INSERT INTO pairing_codes(code_hash, name, expires_at, role) VALUES (?, ?, ?, ?)",
            (_hash(code), name, now.timestamp() + PAIRING_CODE_TTL_S, role),
        )
        return code

    def redeem(self, code: str, device_name: str, now: datetime) -> tuple[str, str] | None:
        """Use a code once: returns a new device token and the device's role, or None if the
        code is not valid."""
        conn = self._database.conn
        row = conn.execute(
            "SELECT name, expires_at, used_at, role FROM pairing_codes WHERE code_hash = ?",
            (_hash(code),),
        ).fetchone()
        if row is None or row[2] is not None or float(row[1]) < now.timestamp():
            return None
        conn.execute(
            "UPDATE pairing_codes SET used_at = ? WHERE code_hash = ?",
            (now.timestamp(), _hash(code)),
        )
        token = secrets.token_urlsafe(32)
        conn.execute(
            "INSERT INTO staff_devices(id, name, token_hash, created_at, role) "
            "VALUES (?, ?, ?, ?, ?)",
            # The name given to `retail-edge pair --name` wins: it is the one the operator will
            # revoke by. Without one, the name typed on the tablet.
            (
                uuid.uuid4().hex[:12],
                str(row[0]) or device_name,
                _hash(token),
                rfc3339(now),
                str(row[3]),
            ),
        )
        return token, str(row[3])

    def authenticate(self, token: str) -> StaffDevice | None:
        row = self._database.conn.execute(
            _SELECT + " WHERE token_hash = ? AND revoked_at IS NULL",
            (_hash(token),),
        ).fetchone()
        return None if row is None else StaffDevice(*row)

    def touch(self, device_id: str, now: datetime) -> None:
        self._database.conn.execute(
            "UPDATE staff_devices SET last_seen_at = ? WHERE id = ?", (rfc3339(now), device_id)
        )

    def devices(self) -> list[StaffDevice]:
        rows = self._database.conn.execute(_SELECT + " ORDER BY created_at").fetchall()
        return [StaffDevice(*row) for row in rows]

    def revoke(self, id_or_name: str, now: datetime) -> int:
        return int(
            self._database.conn.execute(
                "UPDATE staff_devices SET revoked_at = ? WHERE (id = ? OR name = ?) "
                "AND revoked_at IS NULL",
                (rfc3339(now), id_or_name, id_or_name),
            ).rowcount
        )

    def revoked_ids(self) -> frozenset[str]:
        """Every revoked device (a small table: one row per tablet or screen ever paired),
        read by the running agent to end the open streams of a device revoked elsewhere."""
        rows = self._database.conn.execute(
            "SELECT id FROM staff_devices WHERE revoked_at IS NOT NULL"
        ).fetchall()
        return frozenset(str(row[0]) for row in rows)
