"""Server-Sent Events: framing, keep-alives, and a response that stops with the client."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from fastapi.responses import StreamingResponse

from agent.web.models import to_json

KEEPALIVE_S = 15.0
RETRY_MS = 2000


def sse_frame(event: str, data: object) -> str:
    """``data`` is plain JSON data or a service's view model (the hub carries those as they
    are; they become JSON here, at the edge)."""
    payload = json.dumps(data, separators=(",", ":"), ensure_ascii=False, default=to_json)
    return f"event: {event}\ndata: {payload}\n\n"


def sse_comment(text: str = "keep-alive") -> str:
    return f": {text}\n\n"


def sse_response(frames: AsyncIterator[str]) -> StreamingResponse:
    async def body() -> AsyncIterator[str]:
        # Browsers reconnect by themselves after a drop; tell them not to wait long.
        yield f"retry: {RETRY_MS}\n\n"
        async for frame in frames:
            yield frame

    return StreamingResponse(
        body(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
