"""Read a busy subscription's socket 64 KiB at a time instead of 1-2 bytes at a time.

paho reads every packet with three `recv` calls (the command byte, the length, the body),
and aiomqtt reads one packet per event-loop wake-up, so under a BLE scanner's load each
~170-byte advertisement cost three system calls and an `epoll` round of the loop: measured,
that was more than everything the agent does with the advertisement (benchmarks/PROFILE.md).

Wrapped in `BufferedReads`, paho's socket is read in large chunks and serves paho's small
reads from memory; `pending()` tells how much is buffered, which is the hook aiomqtt's reader
already uses (it keeps calling paho's `loop_read` while the socket has bytes pending, written
for TLS sockets). So one wake-up handles everything in the chunk it read.

One chunk per wake-up, not more: a chunk rarely ends on a packet boundary, so reading on
to finish the last packet would, under a flood, go on until the socket is empty, with the
loop's other tasks (the one handling these messages among them) starved meanwhile. Instead
the read that would need a second chunk says "no data yet" (as a non-blocking socket does),
paho keeps the partial packet, and the socket, still readable, wakes the loop again next.

This reaches into two private attributes (aiomqtt's `Client._client`, paho's `Client._sock`)
of the major versions pinned in pyproject.toml; `install` checks for both and leaves the
client as it is (slower, still correct) when either is missing, and a unit test fails if
the pinned versions stop having them.
"""

from __future__ import annotations

import logging
import socket
import ssl
from typing import Any

import aiomqtt

_LOGGER = logging.getLogger(__name__)
CHUNK_BYTES = 65536


class BufferedReads:
    """A socket whose `recv` is served from one large read; everything else goes to the
    socket itself."""

    def __init__(self, sock: socket.socket | ssl.SSLSocket) -> None:
        self._sock = sock
        self._buffer = b""
        self._position = 0
        self._read_this_wakeup = False

    def recv(self, size: int) -> bytes:
        if self._position >= len(self._buffer):
            if self._read_this_wakeup and self._inner_pending() == 0:
                raise BlockingIOError("one chunk per wake-up")  # paho: "no data yet"
            # May raise BlockingIOError / SSLWantReadError: paho handles those as "no data".
            self._buffer = self._sock.recv(CHUNK_BYTES)
            self._position = 0
            self._read_this_wakeup = True
        start = self._position
        self._position = start + size
        return self._buffer[start : start + size]

    def pending(self) -> int:
        """Bytes readable without touching the socket; 0 ends aiomqtt's reading loop, and
        so this wake-up."""
        waiting = max(0, len(self._buffer) - self._position) + self._inner_pending()
        if waiting == 0:
            self._read_this_wakeup = False
        return waiting

    def _inner_pending(self) -> int:
        # TLS: bytes already decrypted inside the SSL object (at most one record).
        return self._sock.pending() if isinstance(self._sock, ssl.SSLSocket) else 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


def install(client: aiomqtt.Client) -> bool:
    """Wrap the connected client's socket; False (client unchanged) if it cannot be."""
    paho = getattr(client, "_client", None)
    sock = getattr(paho, "_sock", None)
    if not isinstance(sock, socket.socket):  # SSLSocket is a socket.socket too
        _LOGGER.debug("MQTT socket not reachable: reading it packet by packet")
        return False
    paho._sock = BufferedReads(sock)  # type: ignore[union-attr]
    return True
