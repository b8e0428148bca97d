"""Bounds on what a client can make the agent hold at the connection level (contract 8.3).

uvicorn has no deadline for a request's headers: a client that opens a connection and sends a
byte every few seconds holds a file descriptor forever, and 1,000 of them exhaust a Pi's
descriptors (measured: `EMFILE`, health checks and joins timing out). This protocol closes a
connection whose complete request headers have not arrived within a deadline (from the
connection's start, and again from the end of each response on a kept-alive connection), and
refuses more than a set number of simultaneous connections from one address.
"""

from __future__ import annotations

import asyncio
import logging
import re
import weakref
from collections import Counter
from collections.abc import Callable
from typing import Any

import h11
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from agent.web.direct_body import DIRECT_BODY, DirectBody, can_write_directly

_LOGGER = logging.getLogger(__name__)
HEADER_TIMEOUT_S = 10.0
# What a refused request may show of itself in the log: a method token, or that it is not one
# (a body left over from an earlier request would start with `{` or `"`). Never the target or
# headers: they carry ticket ids and tokens.
_METHOD = re.compile(rb"[A-Z]{1,10} ")
MAX_CONNECTIONS_PER_ADDRESS = 256


def _connection_lost_read() -> None:
    """What a closed transport's read callback becomes: a read after the connection was lost
    does nothing, as the transport's own callback would (it checks `_conn_lost` first)."""


def release_read_callback(transport: object) -> None:
    """Break the reference cycle a closed asyncio socket transport keeps with itself.

    Python 3.11's `_SelectorSocketTransport` holds its read callback as a bound method of
    itself (`_read_ready_cb`) and never lets it go: every closed connection's transport, ~2 KB
    with its socket objects, waited for the garbage collector, which the agent runs rarely
    (agent/daemon.py). A connection per ticket stream and per page load made that the soak's
    ~8 MB an hour (benchmarks/RESULTS.md). CPython 3.12 drops the callback in `close()`
    (gh-100348, not backported); this does the same once the protocol has heard the
    connection is lost, when nothing reads from it any more. A transport without it (3.12+
    after close, TLS, another loop) is left as it is."""
    if getattr(transport, "_read_ready_cb", None) is not None:
        transport._read_ready_cb = _connection_lost_read  # type: ignore[attr-defined]


def guarded_protocol(
    *,
    header_timeout_s: float = HEADER_TIMEOUT_S,
    max_per_address: int = MAX_CONNECTIONS_PER_ADDRESS,
    on_closed: Callable[[str], None] = lambda _reason: None,
) -> type[H11Protocol]:
    """An h11 protocol class for uvicorn (`Config(http=...)`) with these bounds; `on_closed`
    hears `"header_timeout"` or `"per_address"` for each connection it closes (metrics)."""
    open_per_address: Counter[str] = Counter()

    class GuardedH11Protocol(H11Protocol):
        def __init__(
            self,
            config: Config,
            server_state: ServerState,
            app_state: dict[str, Any],
            _loop: asyncio.AbstractEventLoop | None = None,
        ) -> None:
            super().__init__(config, server_state, app_state, _loop)
            self._headers_due: asyncio.TimerHandle | None = None
            self._address: str | None = None
            self._responses = 0  # completed on this connection (the 400 diagnostic)
            self._last_chunk = b""  # the last bytes read (h11 drops what it refuses)
            # The request cycle last given a direct body (weakly: nothing here keeps it).
            self._offered: weakref.ref[object] | None = None

        def handle_events(self) -> None:
            super().handle_events()
            # A new request's cycle was made and its task scheduled, not yet run: the scope
            # it will see can still be given the direct body of its response (direct_body.py).
            cycle = self.cycle
            if cycle is None or not can_write_directly(cycle):
                return
            if self._offered is None or self._offered() is not cycle:
                self._offered = weakref.ref(cycle)
                scope: dict[str, Any] = cycle.scope  # type: ignore[assignment]
                scope.setdefault("extensions", {})[DIRECT_BODY] = DirectBody(cycle)

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            address = self.client[0] if self.client else "?"
            if open_per_address[address] >= max_per_address:
                on_closed("per_address")
                transport.abort()
                return
            self._address = address
            open_per_address[address] += 1
            self._arm_header_deadline()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm_header_deadline()
            if self._address is not None:
                open_per_address[self._address] -= 1
                if open_per_address[self._address] <= 0:
                    del open_per_address[self._address]
                self._address = None
            super().connection_lost(exc)
            release_read_callback(self.transport)

        def data_received(self, data: bytes) -> None:
            self._last_chunk = data
            super().data_received(data)
            # h11 leaves IDLE once a request's headers are complete.
            if self.conn.their_state is not h11.IDLE:
                self._disarm_header_deadline()

        def on_response_complete(self) -> None:
            self._responses += 1
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm_header_deadline()  # the next request on this connection

        def send_400_response(self, msg: str) -> None:
            # uvicorn says only "Invalid HTTP request received."; under CPU starvation the
            # agent answered ordinary kept-alive requests so (benchmarks/RESULTS.md, soak runs
            # 3-5) and the cause is not found: this says what h11 refused, without its content.
            method = _METHOD.match(self._last_chunk)
            _LOGGER.warning(
                "h11 refused a request: their state %s, ours %s, %d responses before it on "
                "this connection, last read %d bytes starting %s",
                self.conn.their_state.__name__,
                self.conn.our_state.__name__,
                self._responses,
                len(self._last_chunk),
                method.group().decode("ascii").strip() if method else "with no method token",
            )
            super().send_400_response(msg)

        def _arm_header_deadline(self) -> None:
            self._disarm_header_deadline()
            self._headers_due = self.loop.call_later(header_timeout_s, self._headers_late)

        def _disarm_header_deadline(self) -> None:
            if self._headers_due is not None:
                self._headers_due.cancel()
                self._headers_due = None

        def _headers_late(self) -> None:
            self._headers_due = None
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                on_closed("header_timeout")
                self.transport.close()

    return GuardedH11Protocol
