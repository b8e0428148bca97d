"""A hard limit on request bodies (contract 8.3), as a pure ASGI middleware.

An unauthenticated client must not be able to make the agent hold more than the limit: a body
announced larger than the limit is refused before a byte of it is read, and a body without a
length (chunked) is counted as it arrives and refused as soon as it passes the limit. The app
never sees more than the limit, and the connection is closed after the answer, so the rest of
the body is never read (uvicorn stops reading a socket whose buffered body nobody consumes).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 64 * 1024


class BodyTooLarge(Exception):
    """Raised into the app when a body passes the limit, so it stops reading."""


def _too_large_answer(limit: int) -> tuple[dict[str, Any], dict[str, Any]]:
    body = json.dumps(
        {
            "error": {
                "code": "too_large",
                "message": f"The request body is larger than {limit // 1024} KiB.",
            }
        }
    ).encode("utf-8")
    start = {
        "type": "http.response.start",
        "status": 413,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode("ascii")),
            (b"connection", b"close"),
            (b"cache-control", b"no-store"),
            (b"x-content-type-options", b"nosniff"),
        ],
    }
    return start, {"type": "http.response.body", "body": body}


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self._app = app
        self._max = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        announced = _content_length(scope)
        if announced is not None and announced > self._max:
            await self._refuse(send)
            return
        received = 0
        overflowed = False
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received, overflowed
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self._max:
                    overflowed = True
                    raise BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal response_started
            if overflowed:
                return  # the 413 below is the answer, whatever the app tried to say
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self._app(scope, limited_receive, guarded_send)
        except BodyTooLarge:
            pass
        except Exception:
            if not overflowed:
                raise
            # The app's error handling saw BodyTooLarge as a failure (and was muted above).
        if overflowed and not response_started:
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        start, body = _too_large_answer(self._max)
        await send(start)
        await send(body)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the HTTP parser refuses a malformed length before we get here
    return None
