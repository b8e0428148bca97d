"""The fan-out benchmark's peer: a minimal FastAPI app with the same streams, as durably.

What anybody would write first with the same stack: FastAPI on uvicorn, one SQLite file in
WAL mode with `synchronous=FULL` (as the agent's), the waiting line kept in memory, and one
`asyncio.Queue` per open event stream. A call-next marks the first waiting ticket called and
adds its `queue.called` event row, committed (one fsync) before the answer; then it wakes
every stream, and each stream's own generator builds its view, encodes it with the standard
`json` module and yields it through Starlette's `StreamingResponse`: a phone its ticket
(same fields as the agent's ticket view, so frames of the same size), a tablet the whole
waiting line. No authentication, no window tokens, no estimates, no metrics.

It speaks only what `benchmarks/fanout.py` asks of the agent: pair, join, the two streams,
call-next and served. Run: `python -m benchmarks.minimal_fanout_app PORT DB_PATH`.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import sqlite3
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from fastapi import FastAPI, HTTPException
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS tickets (id TEXT PRIMARY KEY, queue TEXT NOT NULL,
       number INTEGER NOT NULL, state TEXT NOT NULL, created_at TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY, event_id TEXT NOT NULL,
       type TEXT NOT NULL, body TEXT NOT NULL)""",
)


def _stamp() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())


class _Line:
    """One queue's tickets in memory, the SQLite file they are committed to, its streams."""

    def __init__(self, path: str) -> None:
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        for statement in SCHEMA:
            self._conn.execute(statement)
        self._lock = threading.Lock()
        self.tickets: dict[str, dict[str, Any]] = {}
        self.waiting: list[str] = []  # ids in the order they will be called
        self._places: dict[str, int] | None = None  # id -> place, rebuilt after a change
        self.phones: set[asyncio.Queue[None]] = set()
        self.tablets: set[asyncio.Queue[None]] = set()

    def _commit(self, statement: str, row: tuple[Any, ...], event: dict[str, Any]) -> None:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.execute(statement, row)
            (seq,) = self._conn.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM outbox").fetchone()
            body = json.dumps({"seq": seq, **event}, separators=(",", ":"))
            self._conn.execute(
                "INSERT INTO outbox VALUES (?, ?, ?, ?)",
                (seq, str(uuid.uuid4()), event["type"], body),
            )
            self._conn.execute("COMMIT")

    def join(self, queue: str) -> dict[str, Any]:
        ticket = {
            "id": secrets.token_urlsafe(9), "queue": queue, "number": len(self.tickets) + 1,
            "state": "waiting", "created_at": _stamp(), "called_at": None,
        }  # fmt: skip
        self._commit(
            "INSERT INTO tickets VALUES (?, ?, ?, 'waiting', ?)",
            (ticket["id"], queue, ticket["number"], ticket["created_at"]),
            {"type": "queue.joined", "data": {"ticket_id": ticket["id"]}},
        )
        return ticket

    def mark(self, ticket: dict[str, Any], state: str) -> None:
        self._commit(
            "UPDATE tickets SET state = ? WHERE id = ?",
            (state, ticket["id"]),
            {"type": f"queue.{state}", "data": {"ticket_id": ticket["id"]}},
        )

    def view(self, ticket_id: str) -> dict[str, Any]:
        ticket = self.tickets[ticket_id]
        if self._places is None:
            self._places = {waiting: place for place, waiting in enumerate(self.waiting, 1)}
        position = self._places.get(ticket_id)
        return {
            **ticket, "position": position, "eta": {"low_s": 240, "high_s": 420},
            "name": "", "party_size": 1, "snoozed": False, "recalls": 0,
            "approaching": position is not None and position <= 2, "counter": None,
            "left_reason": None, "source": "window",
        }  # fmt: skip

    def changed(self, *, moved: bool) -> None:
        """Wake the tablets' streams, and the phones' too when the waiting tickets moved."""
        self._places = None
        for wake in (self.phones | self.tablets) if moved else self.tablets:
            wake.put_nowait(None)


def _frame(event: str, data: object) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def create_app(path: str) -> FastAPI:
    line = _Line(path)
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    async def stream(streams: set[asyncio.Queue[None]], frame: Any) -> AsyncIterator[bytes]:
        wake: asyncio.Queue[None] = asyncio.Queue()
        streams.add(wake)
        try:
            yield b"retry: 3000\n\n"
            while True:
                yield frame()
                await wake.get()
        finally:
            streams.discard(wake)

    @app.post("/api/v1/pair")
    async def pair() -> dict[str, str]:
        return {"token": secrets.token_urlsafe(24)}

    @app.post("/api/v1/queues/{queue}/tickets", status_code=201)
    async def join(queue: str) -> dict[str, Any]:
        ticket = await run_in_threadpool(line.join, queue)
        line.tickets[ticket["id"]] = ticket
        line.waiting.append(ticket["id"])
        line.changed(moved=False)  # the others' places are the same
        return {"ticket": line.view(ticket["id"]), "secret": secrets.token_urlsafe(24)}

    @app.get("/api/v1/tickets/{ticket_id}/stream")
    async def ticket_stream(ticket_id: str) -> StreamingResponse:
        if ticket_id not in line.tickets:
            raise HTTPException(404, "no such ticket")
        frames = stream(line.phones, lambda: _frame("ticket", line.view(ticket_id)))
        return StreamingResponse(frames, media_type="text/event-stream")

    @app.get("/api/v1/staff/stream")
    async def staff_stream() -> StreamingResponse:
        frames = stream(
            line.tablets, lambda: _frame("queue", {"waiting": [line.view(t) for t in line.waiting]})
        )
        return StreamingResponse(frames, media_type="text/event-stream")

    @app.post("/api/v1/queues/{queue}/call-next")
    async def call_next(queue: str) -> dict[str, Any]:
        if not line.waiting:
            raise HTTPException(409, "nobody waiting")
        ticket = line.tickets[line.waiting[0]]
        await run_in_threadpool(line.mark, ticket, "called")
        line.waiting.pop(0)
        ticket["state"], ticket["called_at"] = "called", _stamp()
        line.changed(moved=True)
        return line.view(ticket["id"])

    @app.post("/api/v1/tickets/{ticket_id}/served")
    async def served(ticket_id: str) -> dict[str, Any]:
        ticket = line.tickets[ticket_id]
        await run_in_threadpool(line.mark, ticket, "served")
        ticket["state"] = "served"
        line.changed(moved=False)
        return line.view(ticket_id)

    return app


if __name__ == "__main__":
    port, db = int(sys.argv[1]), sys.argv[2]
    uvicorn.run(create_app(db), host="127.0.0.1", port=port, log_level="error", access_log=False)
