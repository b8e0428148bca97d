"""Command-line tools that work on an agent's database whether the agent runs or not.

They open the database without the one-agent lock; SQLite's own locking keeps their short
writes safe next to a running agent.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import segno

from agent.config.model import AgentConfig
from agent.core.clock import SystemClock
from agent.core.window_token import WindowTokens
from agent.errors import UserFacingError
from agent.store.database import Database
from agent.store.secrets import static_generation, window_secret
from agent.store.staff import STAFF, StaffDevice, StaffRepository


@contextmanager
def _database(config: AgentConfig) -> Iterator[Database]:
    database = Database.open(config.storage.path, store_id=config.store.id, exclusive=False)
    try:
        yield database
    finally:
        database.close()


def pairing_code(config: AgentConfig, name: str, role: str = STAFF) -> str:
    """A one-time code pairing a staff tablet, or a display (window screen, board)."""
    with _database(config) as database, database.atomic():
        return StaffRepository(database).create_pairing_code(name, SystemClock().now(), role)


def staff_devices(config: AgentConfig) -> list[StaffDevice]:
    with _database(config) as database:
        return StaffRepository(database).devices()


def revoke_device(config: AgentConfig, id_or_name: str) -> int:
    with _database(config) as database, database.atomic():
        return StaffRepository(database).revoke(id_or_name, SystemClock().now())


def join_url(config: AgentConfig, queue: str, token: str) -> str:
    return f"{config.http.public_url}/j/{queue}?w={token}"


def window_qr(config: AgentConfig, queue: str, out: Path) -> str:
    """Write the printable window QR code for a static-token queue; returns its URL."""
    queue_config = next((q for q in config.queues if q.id == queue), None)
    if queue_config is None:
        known = ", ".join(q.id for q in config.queues) or "none configured"
        raise UserFacingError(f"no queue {queue!r} in {config.source} (queues: {known})")
    if not queue_config.printed_sticker:
        raise UserFacingError(
            f"queue {queue!r} uses a rotating window code: show "
            f"{config.http.public_url}/window/{queue} on the window screen, or set "
            f'window_token = "static" in [queues.{queue}] to print a sticker'
        )
    if out.suffix.lower() not in (".svg", ".png"):
        raise UserFacingError(f"--out must end in .svg or .png, got {out.name!r}")
    with _database(config) as database:
        tokens = WindowTokens(window_secret(database))
        token = tokens.static(queue, static_generation(database, queue))
    url = join_url(config, queue, token)
    qr = segno.make_qr(url, error="m")
    try:
        qr.save(str(out), scale=12, border=4, dark="#000000", light="#ffffff")
    except OSError as exc:
        raise UserFacingError(f"cannot write {out}: {exc.strerror}") from exc
    return url
