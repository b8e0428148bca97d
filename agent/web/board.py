"""The in-store "now serving" board (contract 8.6): `GET /board` for a paired display (or a
staff tablet), `GET /api/v1/board` with the same auth, and its live stream.

The board shows, per queue, the number just called in large type (readable at 5 m on a TV)
and the few called before it, with their counters. It updates from the hub's queue topics
over Server-Sent Events, so a call reaches it in well under a second; it chimes, and can say
the number in French and English with the browser's speech synthesis.

`GET /api/v1/queues/{queue}/serving` (extension, no auth) is the same list for one queue,
for the ticket page's "now serving" line: the numbers are on the board in the store anyway,
and carry nothing about anyone."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from agent.services.hub import queue_topic
from agent.services.queue.views import BoardQueue, BoardView
from agent.web.auth import DISPLAY_AUTH, PairedDevice, display_device
from agent.web.context import WebContext
from agent.web.customer_api import queue_or_404
from agent.web.errors import ApiError
from agent.web.i18n import fill, strings
from agent.web.models import BoardOut, BoardQueueOut
from agent.web.rendering import Markup, html_page, render
from agent.web.sse import KEEPALIVE_S, device_frames, sse_comment, sse_frame, sse_response
from agent.web.window import both, pairing_page

# Keys the board's script needs in both languages (it speaks both).
_BOARD_KEYS = (
    "board_counter",
    "board_say",
    "board_say_counter",
    "board_sound_on",
    "board_sound_off",
    "board_sound_blocked",
    "board_speech_on",
    "board_speech_off",
    "board_none",
)


def board_router(ctx: WebContext) -> APIRouter:
    router = APIRouter()

    @router.get("/board", include_in_schema=False)
    async def board_page(request: Request) -> HTMLResponse:
        if await display_device(request, ctx) is None:
            title_en, title_fr = both("board_title")
            return pairing_page(ctx, f"{title_fr} / {title_en}", "board")
        return _page(ctx, request, await ctx.queues.board())

    @router.get("/api/v1/board", dependencies=DISPLAY_AUTH)
    async def board(request: Request) -> BoardOut:
        await _display_or_401(ctx, request)
        return BoardOut.model_validate(await ctx.queues.board())

    @router.get("/api/v1/board/stream", dependencies=DISPLAY_AUTH)
    async def stream(request: Request) -> Response:
        """Extension: a `board` frame (the body of /api/v1/board) at once and after every
        change; it ends when the display is revoked (contract 8.2)."""
        device = await _display_or_401(ctx, request)
        return sse_response(device_frames(ctx.staff, device.id, _board_frames(ctx)))

    @router.get("/api/v1/queues/{queue}/serving")
    async def serving(queue: str) -> BoardQueueOut:
        """Extension: the last numbers called in one queue (the ticket page shows the first)."""
        queue_or_404(ctx, queue)
        view = await ctx.queues.board([queue])
        return BoardQueueOut.model_validate(view.queues[0])

    return router


async def _display_or_401(ctx: WebContext, request: Request) -> PairedDevice:
    device = await display_device(request, ctx)
    if device is None:
        message = "Pair this screen first (retail-edge pair --role display)."
        raise ApiError(401, "unauthorized", message)
    return device


async def _board_frames(ctx: WebContext) -> AsyncIterator[str]:
    topics = [queue_topic(queue) for queue in ctx.queues.queue_ids()]
    last: BoardView | None = None
    with ctx.hub.subscribe(*topics) as subscription:
        while True:
            view = await ctx.queues.board()
            if view != last:  # a join or a snooze changes the queue, not the board
                last = view
                yield sse_frame("board", view)
            message = await subscription.next(KEEPALIVE_S)
            if subscription.lagged:
                return  # the browser reconnects and starts from the current board
            if message is None:
                yield sse_comment()


def _page(ctx: WebContext, request: Request, view: BoardView) -> HTMLResponse:
    theme = "light" if request.query_params.get("theme") == "light" else "dark"
    title_en, title_fr = both("board_title")
    columns = Markup("\n".join(_column(q, index) for index, q in enumerate(view.queues)))
    values = {"store": ctx.config.store.name, "title_en": title_en, "title_fr": title_fr}
    for key in ("sound", "speech"):
        values[f"{key}_en"], values[f"{key}_fr"] = both(f"board_{key}_label")
    content = render("board.html", "fr", values | {"columns": columns})
    words = {
        f"{locale}_{key}": strings(locale)[key] for locale in ("en", "fr") for key in _BOARD_KEYS
    }
    return html_page(
        "fr",
        f"{title_fr} · {ctx.config.store.name}",
        "board",
        content,
        data={
            "theme": theme,
            "zone": ctx.config.store.timezone,
            "board": json.dumps(BoardOut.model_validate(view).model_dump(mode="json")),
            "strings": json.dumps(words),
        },
        scripts=("common.js", "board.js"),
    )


def _column(queue: BoardQueue, index: int) -> str:
    """One queue, filled server-side so the numbers are there before any script runs."""
    current = queue.serving[0] if queue.serving else None
    counter = ""
    if current is not None and current.counter:
        en, fr = (fill(text, counter=current.counter) for text in both("board_counter"))
        counter = f"{fr} / {en}"
    return render(
        "board_column.html",
        "fr",
        {
            "queue": queue.queue,
            "col_id": f"board-{index}",
            "label": queue.label,
            "now": str(current.number) if current else "–",
            "empty": "" if current else " is-empty",
            "counter": counter,
            "history": Markup("".join(f"<li>{s.number}</li>" for s in queue.serving[1:])),
        },
    )
