"""The ticket pages' event streams (`GET /api/v1/tickets/{id}/stream`), fanned out together.

Each stream used to be a task that woke on every change of its queue, re-read its ticket,
built and encoded its view and sent it down its own ASGI chain. With 500 phones watching, a
staff call was 500 such wake-ups: ~60 ms of the agent's CPU before the last phone knew, for
a goal of 20 ms (issue 17, benchmarks/PROFILE.md). Here one callback per change goes through
every stream of the queue, builds the views that changed (their waits shared, announce.py),
encodes them, and only then writes the frames, back to back, through each stream's
`BodyWriter` (direct_body.py). A stream's own task wakes only for what needs its own read
from the store: its ticket ended or moved to another queue, a keep-alive, the client gone.

What a phone receives is what it received before: a `ticket` frame each time its view
changes (a change that does not move it sends nothing), the last view when the ticket ends,
then the end of the stream; a stream follows its ticket to another queue; a comment after 15
silent seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from agent.core.queue import Ticket
from agent.services.hub import Hub, Message, queue_topic
from agent.services.queue import QueueService, TicketView
from agent.web.direct_body import BodyWriter, body_writer
from agent.web.sse import KEEPALIVE_S, RETRY_MS, sse_comment, sse_frame
from agent.web.view_encoding import fast_view_json

_KEEPALIVE = sse_comment().encode()


def ticket_frame(view: TicketView) -> bytes:
    fast = fast_view_json(view)
    if fast is None:  # a view type the fast encoder does not know: the ordinary way
        return sse_frame("ticket", view).encode()
    return b"event: ticket\ndata: " + fast + b"\n\n"


class _Watcher:
    """One open stream: what it watches and what it last sent."""

    __slots__ = ("armed", "attention", "ended", "last", "queue", "ticket_id", "writer")

    def __init__(self, ticket: Ticket, writer: BodyWriter, attention: asyncio.Event) -> None:
        self.ticket_id = ticket.id
        self.queue = ticket.queue  # the queue it is registered under
        self.writer = writer
        self.attention = attention  # set when its task must look again
        self.last: TicketView | None = None
        # True while its task waits, so the fan-out may write its frames; False while its
        # task reads and writes itself (the fan-out then only wakes it, to read again).
        self.armed = False
        self.ended = False


class TicketStreams:
    def __init__(
        self,
        queues: QueueService,
        hub: Hub,
        keepalive_s: float = KEEPALIVE_S,
        frame: Callable[[TicketView], bytes] = ticket_frame,
    ) -> None:
        self._queues = queues
        self._hub = hub
        self._keepalive_s = keepalive_s
        self._frame = frame
        self._by_queue: dict[str, set[_Watcher]] = {}
        self._listening: dict[str, contextlib.ExitStack] = {}
        self._due: set[str] = set()  # queues changed since the last fan-out
        self._scheduled = False

    def open_streams(self) -> int:
        return sum(len(watchers) for watchers in self._by_queue.values())

    def response(self, ticket: Ticket) -> StreamingResponse:
        return _TicketStreamResponse(self, ticket)

    async def serve(self, ticket: Ticket, scope: Scope, receive: Receive, send: Send) -> None:
        """The stream's body after its first line, until the ticket ends or the client goes."""
        attention = asyncio.Event()
        watcher = _Watcher(ticket, body_writer(scope, send, attention), attention)
        gone = asyncio.ensure_future(self._until_disconnected(receive, watcher))
        self._watch(watcher)
        try:
            await self._run(watcher)
        finally:
            gone.cancel()
            self._unwatch(watcher)

    async def _run(self, watcher: _Watcher) -> None:
        writer = watcher.writer
        while not watcher.ended:
            watcher.attention.clear()
            watcher.armed = False
            # Registered before reading: a change made meanwhile is read again, never lost.
            current = await self._queues.ticket(watcher.ticket_id)
            if current is None:
                return
            if current.queue != watcher.queue:  # moved by staff: follow it, then read again
                self._unwatch(watcher)
                watcher.queue = current.queue
                self._watch(watcher)
                continue
            view = self._queues.watched_view(current)
            if view != watcher.last:
                watcher.last = view
                if not writer.write(self._frame(view)):
                    return
            if not current.active:
                await writer.flush()
                return  # served, no-show or left: nothing more will change
            if not await writer.flush():
                return
            watcher.armed = True
            try:
                await asyncio.wait_for(watcher.attention.wait(), self._keepalive_s)
            except TimeoutError:
                if not writer.write(_KEEPALIVE):
                    return

    @staticmethod
    async def _until_disconnected(receive: Receive, watcher: _Watcher) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        watcher.ended = True
        watcher.attention.set()

    def _watch(self, watcher: _Watcher) -> None:
        queue = watcher.queue
        watchers = self._by_queue.get(queue)
        if watchers is None:
            watchers = self._by_queue[queue] = set()
            stack = self._listening[queue] = contextlib.ExitStack()
            stack.enter_context(
                self._hub.listen(queue_topic(queue), functools.partial(self._changed, queue))
            )
        watchers.add(watcher)

    def _unwatch(self, watcher: _Watcher) -> None:
        watchers = self._by_queue.get(watcher.queue)
        if watchers is None:
            return
        watchers.discard(watcher)
        if not watchers:
            del self._by_queue[watcher.queue]
            self._listening.pop(watcher.queue).close()

    def _changed(self, queue: str, _message: Message) -> None:
        # Called inside the publish, in the middle of the change's own request: the fan-out
        # runs on the loop's next turn, once for all the changes made until then.
        self._due.add(queue)
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._fan_out)

    def _fan_out(self) -> None:
        self._scheduled = False
        due, self._due = self._due, set()
        frames: list[tuple[_Watcher, bytes]] = []
        for queue in due:
            for watcher in tuple(self._by_queue.get(queue, ())):
                if not watcher.armed:
                    watcher.attention.set()  # its task is reading: it reads once more
                    continue
                current = self._queues.active_ticket(watcher.ticket_id)
                if current is None or current.queue != watcher.queue:
                    watcher.armed = False  # ended or moved: its task reads it from the store
                    watcher.attention.set()
                    continue
                view = self._queues.watched_view(current)
                if view != watcher.last:
                    watcher.last = view
                    frames.append((watcher, self._frame(view)))
        # Written together, after all the work: a socket write that follows another at once
        # costs a third of one that follows 100 µs of Python (PROFILE.md, fan-out).
        for watcher, frame in frames:
            if not watcher.writer.write(frame):
                watcher.ended = True
                watcher.attention.set()


async def _nothing() -> AsyncIterator[bytes]:
    nothing: tuple[bytes, ...] = ()  # an async generator with no items: `serve` writes it
    for chunk in nothing:
        yield chunk


class _TicketStreamResponse(StreamingResponse):
    """An event stream whose body `TicketStreams.serve` writes: the headers and framing of
    `agent.web.sse.sse_response`, the same first line (the browser's retry delay)."""

    def __init__(self, streams: TicketStreams, ticket: Ticket) -> None:
        super().__init__(
            _nothing(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )
        self._streams = streams
        self._ticket = ticket

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        start: Any = {"type": "http.response.start", "status": 200, "headers": self.raw_headers}
        await send(start)
        retry = f"retry: {RETRY_MS}\n\n".encode()
        await send({"type": "http.response.body", "body": retry, "more_body": True})
        await self._streams.serve(self._ticket, scope, receive, send)
        await send({"type": "http.response.body", "body": b"", "more_body": False})
