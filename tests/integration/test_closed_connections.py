"""A closed HTTP connection leaves nothing behind for the garbage collector: its transport is
freed as it closes, by reference counting (agent/web/connections.py). On Python 3.11 each
closed connection's transport stayed, in a reference cycle with its own read callback,
until a collection found it, which the agent's thresholds make rare (agent/daemon.py): the
~2 KB a connection was the soak's ~8 MB an hour (benchmarks/RESULTS.md, soak run 7)."""

from __future__ import annotations

import asyncio
import gc
import socket
from typing import Any

from fastapi import FastAPI

from agent.web.server import WebServer

CONNECTIONS = 20


def _closed_transports() -> int:
    """Socket transports still in memory whose connection has ended (`_sock` is dropped
    when it does)."""
    return sum(
        1
        for o in gc.get_objects()
        if type(o).__name__ == "_SelectorSocketTransport" and getattr(o, "_sock", 0) is None
    )


def _one_request(port: int, path: str) -> bytes:
    """A blocking client in a thread: no transport of its own in the loop to count."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


async def test_closed_connections_leave_no_transport_for_the_collector() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok", "more_body": False})

    outer = FastAPI()
    outer.mount("/raw", app)
    server = WebServer(outer, "127.0.0.1", 0)
    await server.start()
    gc.collect()
    gc.disable()  # what is left must be what reference counting could not free
    try:
        before = _closed_transports()
        for _ in range(CONNECTIONS):
            answer = await asyncio.to_thread(_one_request, server.port, "/raw/")
            assert answer.startswith(b"HTTP/1.1 200")
        for _ in range(50):  # the server's side of each connection ends a turn or two later
            await asyncio.sleep(0.01)
        left = _closed_transports() - before
    finally:
        gc.enable()
        await server.stop()
    assert left == 0, (
        f"{left} of {CONNECTIONS} closed connections' transports left to the collector"
    )
