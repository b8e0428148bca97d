"""Direct bodies (agent/web/direct_body.py) through the agent's real server: uvicorn with the
guarded h11 protocol offers one to every request, its chunks arrive framed as the response's
own, and it refuses to write once the response or the client is gone."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from fastapi import FastAPI

from agent.web.direct_body import DirectBody, body_writer
from agent.web.server import WebServer


async def _serve(app: Any) -> WebServer:
    outer = FastAPI()
    outer.mount("/raw", app)
    server = WebServer(outer, "127.0.0.1", 0)
    await server.start()
    return server


async def test_chunks_written_directly_arrive_in_order_with_the_ordinary_ones() -> None:
    kinds: list[str] = []
    after_end: list[bool] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        start = {"type": "http.response.start", "status": 200, "headers": []}
        await send(start)
        await send({"type": "http.response.body", "body": b"first\n", "more_body": True})
        writer = body_writer(scope, send, asyncio.Event())
        kinds.append(type(writer).__name__)
        for n in range(3):
            assert writer.write(f"direct {n}\n".encode())
        await send({"type": "http.response.body", "body": b"last\n", "more_body": False})
        after_end.append(writer.write(b"too late\n"))

    server = await _serve(app)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as client:
            answer = await client.get("/raw/")
            assert answer.status_code == 200
            assert answer.headers["transfer-encoding"] == "chunked"
            assert answer.text == "first\ndirect 0\ndirect 1\ndirect 2\nlast\n"
            # The connection is still good for the next request after a direct body.
            again = await client.get("/raw/")
            assert again.text == answer.text
    finally:
        await server.stop()
    assert kinds == [DirectBody.__name__] * 2
    assert after_end == [False, False]


async def test_a_direct_body_refuses_to_write_once_the_client_left() -> None:
    writers: list[Any] = []
    gone = asyncio.Event()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        writers.append(body_writer(scope, send, asyncio.Event()))
        assert writers[0].write(b"hello\n")
        while (await receive())["type"] != "http.disconnect":
            pass
        gone.set()

    server = await _serve(app)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET /raw/ HTTP/1.1\r\nHost: x\r\n\r\n")
        head = await reader.readuntil(b"hello\n")
        assert head.startswith(b"HTTP/1.1 200")
        writer.close()
        await asyncio.wait_for(gone.wait(), 5)
        assert writers[0].write(b"nobody reads this\n") is False
    finally:
        await server.stop()
