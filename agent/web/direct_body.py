"""Writing a streaming response's body straight to its connection, outside the ASGI chain.

A staff call with 500 phones watching their tickets woke 500 tasks, each of which built its
frame and sent it down its own ASGI send chain (five wrappers and h11) to its own socket:
~100 µs of Python between two `send()` calls, each of which then also paid for waking the
reader (issue 17's fan-out, benchmarks/PROFILE.md). A stream that holds a `BodyWriter` lets
one callback build every phone's frame and write them back to back instead.

The server side (`agent/web/connections.py`) puts a `DirectBody` for each request in the
ASGI scope's extensions under `DIRECT_BODY`; a server without it (tests' in-process ASGI
transport, another server) gets a `QueuedBody`, which hands the chunks to the response's own
task to send the ordinary way. Either bounds what a reader that does not read can make the
agent hold: past the bound, `write` says False and the stream ends (its page reconnects and
starts again from the current state, as after a hub subscriber fell behind).
"""

from __future__ import annotations

import asyncio
import weakref
from collections import deque
from collections.abc import Mapping
from typing import Any, Protocol

import h11

DIRECT_BODY = "retail_edge.direct_body"
# A reader this far behind is not reading: a ticket frame is ~400 bytes, a phone that reads
# at all never holds a quarter of a megabyte of them.
MAX_UNSENT_BYTES = 256 * 1024


class BodyWriter(Protocol):
    def write(self, chunk: bytes) -> bool:
        """Queue ``chunk`` of the body for the client; False if the stream must end instead
        (the client is gone, or too far behind)."""

    async def flush(self) -> bool:
        """Send what `write` queued (a direct body has nothing to do); False as for write."""


# What DirectBody reads of uvicorn's request cycle; a cycle without them (another uvicorn)
# is offered no direct body, and its streams take the queued way.
_CYCLE_ATTRIBUTES = ("conn", "transport", "disconnected", "response_started", "response_complete")


def can_write_directly(cycle: object) -> bool:
    return all(hasattr(cycle, name) for name in _CYCLE_ATTRIBUTES)


class DirectBody:
    """A body written to uvicorn's h11 connection as its own `send` writes it (`conn.send`
    frames each chunk as the response's framing says, chunked here), once the response has
    started through the ASGI chain. The ASGI send may still be used afterwards (the final,
    empty chunk ends the response): both write to one transport from one thread, in order."""

    def __init__(self, cycle: Any, max_unsent: int = MAX_UNSENT_BYTES) -> None:
        # uvicorn's RequestResponseCycle (h11_impl): its conn, transport, and whether the
        # client went away or the response ended; the bound of uvicorn in pyproject.toml keeps
        # these, and tests/integration/test_direct_body.py runs this against the real one.
        # Weakly: the cycle's scope holds this object, which must not make a reference cycle
        # the collector has to find (the agent runs it rarely, agent/daemon.py).
        self._cycle = weakref.ref(cycle)
        self._max_unsent = max_unsent

    def write(self, chunk: bytes) -> bool:
        cycle = self._cycle()
        if cycle is None:
            return False
        transport: asyncio.Transport = cycle.transport
        if cycle.disconnected or cycle.response_complete or transport.is_closing():
            return False
        if not cycle.response_started:
            raise RuntimeError("a direct body is written only after the response started")
        if transport.get_write_buffer_size() > self._max_unsent:
            return False
        try:
            framed = cycle.conn.send(h11.Data(data=chunk))
        except h11.LocalProtocolError:  # the response ended meanwhile (h11 says so): done
            return False
        transport.write(framed)
        return True

    async def flush(self) -> bool:
        cycle = self._cycle()
        return cycle is not None and not (cycle.disconnected or cycle.transport.is_closing())


class QueuedBody:
    """A body whose chunks the response's own task sends through the ASGI chain (`flush`),
    where no `DirectBody` is offered."""

    def __init__(
        self, send: Any, attention: asyncio.Event, max_unsent: int = MAX_UNSENT_BYTES
    ) -> None:
        self._send = send
        self._chunks: deque[bytes] = deque()
        self._unsent = 0
        self._max_unsent = max_unsent
        self._attention = attention  # the response's task wakes on it to flush

    def write(self, chunk: bytes) -> bool:
        if self._unsent + len(chunk) > self._max_unsent:
            return False
        self._chunks.append(chunk)
        self._unsent += len(chunk)
        self._attention.set()
        return True

    async def flush(self) -> bool:
        while self._chunks:
            chunk = self._chunks.popleft()
            self._unsent -= len(chunk)
            await self._send({"type": "http.response.body", "body": chunk, "more_body": True})
        return True


def body_writer(scope: Mapping[str, Any], send: Any, attention: asyncio.Event) -> BodyWriter:
    """The direct body the server offers for this request, or else a queued one, whose
    writes set ``attention`` for the response's task to flush them."""
    direct = scope.get("extensions", {}).get(DIRECT_BODY)
    if isinstance(direct, DirectBody):
        return direct
    return QueuedBody(send, attention)
