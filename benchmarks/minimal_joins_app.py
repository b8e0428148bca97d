"""The joins benchmark's peer: a minimal FastAPI app writing the same rows, as durably.

What anybody would write first with the same stack: FastAPI on uvicorn, one SQLite file in
WAL mode with `synchronous=FULL` (as the agent's), and for each `POST` a ticket row plus its
`queue.joined` event row in the outbox, committed (one fsync) before the answer. No window
token check, no rate limits, no group commit, no middlewares, no metrics: the floor the
agent's extra work is measured against (benchmarks/queue_joins.py).

Run: `python -m benchmarks.minimal_joins_app PORT DB_PATH`.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import sys
import threading
import time
import uuid

import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS tickets (id TEXT PRIMARY KEY, queue TEXT NOT NULL,
       number INTEGER NOT NULL, state TEXT NOT NULL, sort_key REAL NOT NULL,
       created_at TEXT NOT NULL, secret_hash TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY, event_id TEXT NOT NULL,
       type TEXT NOT NULL, created_at REAL NOT NULL, body TEXT NOT NULL)""",
)


class JoinBody(BaseModel):
    window_token: str


class Joined(BaseModel):
    ticket_id: str
    number: int
    secret: str
    queue: str
    state: str


def create_app(path: str) -> FastAPI:
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    for statement in SCHEMA:
        conn.execute(statement)
    lock = threading.Lock()  # one writer: SQLite's own rule, kept without busy retries
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @app.post("/api/v1/queues/{queue}/tickets", status_code=201)
    def join(queue: str, body: JoinBody) -> Joined:  # a sync route: FastAPI's thread pool
        del body
        ticket_id = str(uuid.uuid4())
        secret = secrets.token_urlsafe(24)
        now = time.time()
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
        with lock:
            conn.execute("BEGIN IMMEDIATE")
            (number,) = conn.execute(
                "SELECT COALESCE(MAX(number), 0) + 1 FROM tickets WHERE queue = ?", (queue,)
            ).fetchone()
            conn.execute(
                "INSERT INTO tickets VALUES (?, ?, ?, 'waiting', ?, ?, ?)",
                (ticket_id, queue, number, now, stamp, hashlib.sha256(secret.encode()).hexdigest()),
            )
            (seq,) = conn.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM outbox").fetchone()
            event = {
                "id": str(uuid.uuid4()),
                "store": "bench-01",
                "seq": seq,
                "type": "queue.joined",
                "ts": stamp,
                "data": {"queue": queue, "ticket_id": ticket_id, "number": number},
            }
            conn.execute(
                "INSERT INTO outbox VALUES (?, ?, 'queue.joined', ?, ?)",
                (seq, event["id"], now, json.dumps(event, separators=(",", ":"))),
            )
            conn.execute("COMMIT")
        return Joined(
            ticket_id=ticket_id, number=number, secret=secret, queue=queue, state="waiting"
        )

    return app


if __name__ == "__main__":
    port, db = int(sys.argv[1]), sys.argv[2]
    uvicorn.run(create_app(db), host="127.0.0.1", port=port, log_level="error", access_log=False)
