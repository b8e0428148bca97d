"""Opening the agent's SQLite database: lock, pragmas, migrations, store-id check.

WAL with ``synchronous=FULL``: a commit is on stable storage when it returns, so anything
acknowledged to a person (a ticket) or queued for the central side (the outbox) survives a
crash or a power cut. One agent process owns a database file at a time (an advisory lock next
to it); tools such as ``retail-edge pair`` open it without the lock and rely on SQLite's own
locking for their short writes.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import sqlite_utils

from agent.errors import DatabaseLockedError, StorageError
from agent.store.migrations import MIGRATIONS

_LOGGER = logging.getLogger(__name__)
NO_FSYNC_ENV = "RETAIL_EDGE_BENCHMARK_NO_FSYNC"


class Database:
    """One SQLite connection, used from one thread at a time (see StoreRunner)."""

    def __init__(self, path: Path, db: sqlite_utils.Database, lock_file: IO[str] | None) -> None:
        self.path = path
        self.db = db
        self._lock_file = lock_file

    @classmethod
    def open(cls, path: Path, *, store_id: str, exclusive: bool = True) -> Database:
        """Open (creating if needed) and migrate; ``exclusive`` takes the one-agent lock."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create {path.parent}: {exc.strerror}") from exc
        lock_file = _take_lock(path) if exclusive else None
        try:
            conn = sqlite3.connect(
                str(path), isolation_level=None, check_same_thread=False, timeout=10.0
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={_synchronous()}")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA busy_timeout=10000")
            db = sqlite_utils.Database(conn, execute_plugins=False)
            MIGRATIONS.apply(db)
            _check_store_id(db, store_id, path)
        except sqlite3.DatabaseError as exc:
            if lock_file is not None:
                lock_file.close()
            raise StorageError(f"cannot open database {path}: {exc}") from exc
        except BaseException:
            if lock_file is not None:
                lock_file.close()
            raise
        return cls(path, db, lock_file)

    @property
    def conn(self) -> sqlite3.Connection:
        return self.db.conn

    @contextlib.contextmanager
    def atomic(self) -> Iterator[None]:
        """One transaction (a savepoint when nested); committed durably on exit.

        The outermost level takes the write lock at BEGIN (IMMEDIATE). A deferred transaction
        that reads, then writes after another process (`retail-edge pair` beside a running
        agent) committed, fails at once with "database is locked": in WAL mode SQLite cannot
        wait for that conflict, since the snapshot it read is already stale. Taking the lock
        first turns it into an ordinary wait of at most busy_timeout."""
        if _in_transaction(self.conn):
            with self.db.atomic():  # a savepoint
                yield
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            if _in_transaction(self.conn):
                self.conn.execute("ROLLBACK")
            raise
        try:
            self.conn.execute("COMMIT")
        except BaseException:
            # A COMMIT that fails (a full disk) leaves the transaction open: end it, or the
            # connection's next BEGIN would fail too.
            if _in_transaction(self.conn):
                self.conn.execute("ROLLBACK")
            raise

    def meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self.conn.execute(
            "INSERT INTO meta(key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def release_memory(self) -> None:
        """Empty this connection's page cache (it fills again as pages are read)."""
        self.conn.execute("PRAGMA shrink_memory")

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            # Fold the WAL back into the main file so a copied .db is complete on its own.
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.db.close()
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None


def _in_transaction(conn: sqlite3.Connection) -> bool:
    # A call, not the attribute: mypy would narrow the attribute across the statements that
    # change it.
    return conn.in_transaction


def _synchronous() -> str:
    """FULL always, except for the benchmark that measures what durability costs."""
    if os.environ.get(NO_FSYNC_ENV) == "1":
        _LOGGER.warning("%s=1: commits are NOT durable (benchmarks only)", NO_FSYNC_ENV)
        return "OFF"
    return "FULL"


def _take_lock(path: Path) -> IO[str]:
    lock_path = path.with_name(path.name + ".lock")
    try:
        lock_file = lock_path.open("a+", encoding="utf-8")
    except OSError as exc:
        raise StorageError(f"cannot create lock file {lock_path}: {exc.strerror}") from exc
    try:
        fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock_file.seek(0)
        owner = lock_file.read().strip() or "unknown"
        lock_file.close()
        raise DatabaseLockedError(
            f"{path} is already used by another retail-edge agent (pid {owner}); "
            "stop it first or give this one another [storage] path"
        ) from None
    lock_file.seek(0)
    lock_file.truncate()
    lock_file.write(str(os.getpid()))
    lock_file.flush()
    return lock_file


def _check_store_id(db: sqlite_utils.Database, store_id: str, path: Path) -> None:
    """A database belongs to one store: its `seq` numbering must never mix two stores."""
    row = db.conn.execute("SELECT value FROM meta WHERE key = 'store_id'").fetchone()
    if row is None:
        with db.atomic():
            db.conn.execute("INSERT INTO meta(key, value) VALUES ('store_id', ?)", (store_id,))
    elif row[0] != store_id:
        raise StorageError(
            f"{path} belongs to store {row[0]!r}, not {store_id!r}; refusing to mix their events"
        )
