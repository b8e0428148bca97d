"""Staff-tablet JSON API and live stream (contract §3). Bearer token from pairing."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from agent.core.queue import QueueRuleError, Ticket
from agent.services.hub import STAFF_TOPIC
from agent.services.queue.views import QueueChanged
from agent.web.auth import STAFF_AUTH, PairedDevice, staff_device
from agent.web.context import WebContext
from agent.web.customer_api import queue_or_404, rule_error
from agent.web.errors import ApiError
from agent.web.models import CallBody, FootfallDayOut, MoveBody, StaffQueueOut, StaffTicketOut
from agent.web.sse import (
    KEEPALIVE_S,
    SharedFrames,
    device_frames,
    message_frame,
    sse_comment,
    sse_frame,
    sse_response,
)
from agent.web.wording import error_message, request_locale

_DAY = re.compile(r"20[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])")


# Refusals that say the request named something that is not there (a counter, a queue):
# the body was wrong, not the ticket's state.
_BAD_BODY = frozenset({"unknown_counter", "unknown_queue", "same_queue"})


def staff_rule_error(exc: QueueRuleError, request: Request, action: str) -> ApiError:
    if exc.code in _BAD_BODY:
        return ApiError(422, exc.code, error_message(request_locale(request), exc.code, action))
    return rule_error(exc, request_locale(request), action)


def _tablet_first(ctx: WebContext) -> list[Any]:
    """A route dependency: the tablet is checked before the body is read, so a caller
    without a tablet token learns 401, never what its body got wrong (CSRF, probing)."""

    async def tablet(request: Request) -> None:
        request.state.tablet = await staff_device(request, ctx)

    return [Depends(tablet)]


def _device_of(request: Request) -> PairedDevice:
    device: PairedDevice = request.state.tablet
    return device


def staff_router(ctx: WebContext) -> APIRouter:
    router = APIRouter(dependencies=STAFF_AUTH)
    queues = ctx.queues
    queue_frames = SharedFrames("queue")  # shared by every tablet's stream

    checked_first = _tablet_first(ctx)

    @router.get("/api/v1/queues/{queue}")
    async def queue_view(queue: str, request: Request) -> StaffQueueOut:
        await staff_device(request, ctx)
        queue_or_404(ctx, queue)
        return StaffQueueOut.model_validate(queues.queue_view(queue))

    @router.post("/api/v1/queues/{queue}/call-next", dependencies=checked_first)
    async def call_next(
        queue: str, request: Request, body: CallBody | None = None
    ) -> StaffTicketOut:
        device = _device_of(request)
        queue_or_404(ctx, queue)
        counter = body.counter if body else None
        try:
            called = await queues.call_next(queue, device.name, counter)
        except QueueRuleError as exc:
            raise staff_rule_error(exc, request, "call_next") from None
        return StaffTicketOut.model_validate(queues.staff_view(called))

    async def act(
        request: Request, action: str, operation: Callable[[], Awaitable[Ticket]]
    ) -> StaffTicketOut:
        try:
            changed = await operation()
        except LookupError:
            raise ApiError(404, "not_found", "No such ticket.") from None
        except QueueRuleError as exc:
            raise staff_rule_error(exc, request, action) from None
        return StaffTicketOut.model_validate(queues.staff_view(changed))

    async def transition(request: Request, ticket_id: str, action: str) -> StaffTicketOut:
        await staff_device(request, ctx)
        operations = {
            "served": queues.served,
            "no-show": queues.no_show,
            "recall": queues.recall,
            "undo": queues.undo,
            "left": queues.staff_leave,
        }
        return await act(request, action.replace("-", "_"), lambda: operations[action](ticket_id))

    @router.post("/api/v1/tickets/{ticket_id}/call", dependencies=checked_first)
    async def call(
        ticket_id: str, request: Request, body: CallBody | None = None
    ) -> StaffTicketOut:
        """Contract 8.7: call this waiting ticket (409 if it is not waiting)."""
        device = _device_of(request)
        counter = body.counter if body else None
        return await act(request, "call", lambda: queues.call(ticket_id, device.name, counter))

    @router.post("/api/v1/tickets/{ticket_id}/move", dependencies=checked_first)
    async def move(ticket_id: str, body: MoveBody, request: Request) -> StaffTicketOut:
        """Contract 8.7: move a waiting ticket to another queue, keeping its join time."""
        return await act(request, "move", lambda: queues.move(ticket_id, body.queue))

    @router.post("/api/v1/tickets/{ticket_id}/undo")
    async def undo(ticket_id: str, request: Request) -> StaffTicketOut:
        """Contract 8.7: revert the last served / no-show / left, if under 60 s ago."""
        return await transition(request, ticket_id, "undo")

    @router.post("/api/v1/tickets/{ticket_id}/left")
    async def left(ticket_id: str, request: Request) -> StaffTicketOut:
        """Extension: staff take a waiting or called ticket out (`left_reason` "staff")."""
        return await transition(request, ticket_id, "left")

    @router.post("/api/v1/tickets/{ticket_id}/served")
    async def served(ticket_id: str, request: Request) -> StaffTicketOut:
        return await transition(request, ticket_id, "served")

    @router.post("/api/v1/tickets/{ticket_id}/no-show")
    async def no_show(ticket_id: str, request: Request) -> StaffTicketOut:
        return await transition(request, ticket_id, "no-show")

    @router.post("/api/v1/tickets/{ticket_id}/recall")
    async def recall(ticket_id: str, request: Request) -> StaffTicketOut:
        return await transition(request, ticket_id, "recall")

    @router.get("/api/v1/footfall/hours")
    async def footfall_hours(request: Request, day: str | None = None) -> FootfallDayOut:
        """Extension: entries, exits and queue joins per hour of a local day (default today)."""
        await staff_device(request, ctx)
        if day is not None and not _DAY.fullmatch(day):
            raise ApiError(400, "invalid_day", "day must be a date written YYYY-MM-DD.")
        if ctx.footfall_hours is None:
            raise ApiError(404, "not_found", "Footfall is not available on this agent.")
        return FootfallDayOut.model_validate(await ctx.footfall_hours(day))

    @router.get("/api/v1/staff/stream")
    async def stream(request: Request) -> Response:
        device = await staff_device(request, ctx, allow_cookie=True)
        frames = _staff_frames(ctx, queue_frames)
        return sse_response(device_frames(ctx.staff, device.id, frames))

    return router


async def _staff_frames(ctx: WebContext, queue_frames: SharedFrames) -> AsyncIterator[str]:
    sent: dict[str, int] = {}  # queue -> the change whose view this stream sent last
    with ctx.hub.subscribe(STAFF_TOPIC) as subscription:
        # Start with the whole picture, then changes as they happen.
        for queue in ctx.queues.queue_ids():
            sent[queue], view = ctx.queues.latest_queue_view(queue)
            yield queue_frames.frame(queue, view)
        if ctx.occupancy is not None:
            yield sse_frame("occupancy", ctx.occupancy())
        # Alerts still open, from the store (services/alerts.py): a tablet that reconnects,
        # or an agent that restarted, does not lose someone waiting at the door.
        for opened in await ctx.hub.snapshot(STAFF_TOPIC):
            yield sse_frame(opened.name, opened.data)
        while True:
            message = await subscription.next(KEEPALIVE_S)
            if subscription.lagged:
                return
            if message is None:
                yield sse_comment()
            elif isinstance(message.data, QueueChanged):
                # The view as it is now, once: changes already covered by a view sent are
                # skipped (a stream that fell behind catches up in one frame). Built after
                # one turn of the loop, so the staff action's own answer and the phones'
                # frames, woken before, go out first, and the changes made in that turn (a
                # group commit's joins) make one frame. It used to wait 50 ms, which alone
                # put the tablets past issue 17's 20 ms fan-out goal.
                if message.data.version > sent.get(message.data.queue, -1):
                    await asyncio.sleep(0)
                    version, view = ctx.queues.latest_queue_view(message.data.queue)
                    sent[message.data.queue] = version
                    yield queue_frames.frame(message.data.queue, view)
            else:
                yield message_frame(message)
