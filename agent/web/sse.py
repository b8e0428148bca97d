"""Server-Sent Events: framing, keep-alives, and a response that stops with the client."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

from fastapi.responses import StreamingResponse

from agent.services.hub import Message
from agent.services.staff import StaffService
from agent.web.models import to_json, view_json

KEEPALIVE_S = 15.0
RETRY_MS = 2000


def sse_frame(event: str, data: object) -> str:
    """``data`` is plain JSON data or a service's view model (the hub carries those as they
    are; they become JSON here, at the edge)."""
    payload = view_json(data)
    if payload is None:  # plain JSON data (which may hold views: those go through to_json)
        payload = json.dumps(data, separators=(",", ":"), ensure_ascii=False, default=to_json)
    return f"event: {event}\ndata: {payload}\n\n"


def message_frame(message: Message) -> str:
    """A hub message's frame, encoded once and shared by every stream that sends it."""
    if message.encoded is None:
        message.encoded = sse_frame(message.name, message.data)
    return message.encoded


class SharedFrames:
    """The frame of the view each key (a queue) was last sent with, encoded once for every
    stream that sends that same view: the tablets all send the view `Announcer.latest`
    built once per change, and each of 10 tablets encoding a 500-ticket view was a third of
    the loop during a call (issue 17's fan-out, benchmarks/PROFILE.md)."""

    def __init__(self, event: str) -> None:
        self._event = event
        # key -> (the view, its frame); the view is held, so its identity cannot be reused
        self._last: dict[str, tuple[object, str]] = {}

    def frame(self, key: str, view: object) -> str:
        last = self._last.get(key)
        if last is None or last[0] is not view:
            last = self._last[key] = (view, sse_frame(self._event, view))
        return last[1]


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


async def device_frames(
    staff: StaffService, device_id: str, frames: AsyncIterator[str]
) -> AsyncIterator[str]:
    """A paired device's stream (contract 8.2): it ends as soon as the agent learns the device
    was revoked (by `retail-edge revoke` in another process, found by the staff service's
    watch), even while waiting for the next frame; and each frame is sent only after a fresh
    check, so nothing goes out after a revoke that committed before it."""
    with staff.open_stream(device_id) as revoked:
        ended = asyncio.ensure_future(revoked.wait())
        step: asyncio.Future[str] | None = None
        try:
            while True:
                step = asyncio.ensure_future(anext(frames))
                await asyncio.wait({step, ended}, return_when=asyncio.FIRST_COMPLETED)
                if not step.done():
                    return  # revoked while waiting (the finally cancels the wait)
                try:
                    frame = step.result()
                except StopAsyncIteration:
                    return
                if revoked.is_set() or not await staff.still_paired(device_id):
                    return
                yield frame
        finally:
            ended.cancel()
            if step is not None and not step.done():
                step.cancel()
                with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                    await step
            aclose = getattr(frames, "aclose", None)
            if aclose is not None:
                await aclose()
