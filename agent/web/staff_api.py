"""Staff-tablet JSON API and live stream (contract §3). Bearer token from pairing."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request, Response

from agent.core.queue import QueueRuleError
from agent.services.hub import STAFF_TOPIC
from agent.web.auth import staff_device
from agent.web.context import WebContext
from agent.web.customer_api import queue_or_404, rule_error
from agent.web.errors import ApiError
from agent.web.models import FootfallDayOut, StaffQueueOut, StaffTicketOut
from agent.web.sse import KEEPALIVE_S, device_frames, sse_comment, sse_frame, sse_response
from agent.web.wording import request_locale

_DAY = re.compile(r"20[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])")


def staff_router(ctx: WebContext) -> APIRouter:
    router = APIRouter()
    queues = ctx.queues

    @router.get("/api/v1/queues/{queue}")
    async def queue_view(queue: str, request: Request) -> StaffQueueOut:
        await staff_device(request, ctx)
        queue_or_404(ctx, queue)
        return StaffQueueOut.model_validate(queues.queue_view(queue))

    @router.post("/api/v1/queues/{queue}/call-next")
    async def call_next(queue: str, request: Request) -> StaffTicketOut:
        device = await staff_device(request, ctx)
        queue_or_404(ctx, queue)
        try:
            called = await queues.call_next(queue, device.name)
        except QueueRuleError as exc:
            raise rule_error(exc, request_locale(request), "call_next") from None
        return StaffTicketOut.model_validate(queues.staff_view(called))

    async def transition(request: Request, ticket_id: str, action: str) -> StaffTicketOut:
        await staff_device(request, ctx)
        operations = {
            "served": queues.served,
            "no-show": queues.no_show,
            "recall": queues.recall,
        }
        try:
            changed = await operations[action](ticket_id)
        except LookupError:
            raise ApiError(404, "not_found", "No such ticket.") from None
        except QueueRuleError as exc:
            raise rule_error(exc, request_locale(request), action.replace("-", "_")) from None
        return StaffTicketOut.model_validate(queues.staff_view(changed))

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
        return sse_response(device_frames(ctx.staff, device.id, _staff_frames(ctx)))

    return router


async def _staff_frames(ctx: WebContext) -> AsyncIterator[str]:
    with ctx.hub.subscribe(STAFF_TOPIC) as subscription:
        # Start with the whole picture, then changes as they happen.
        for queue in ctx.queues.queue_ids():
            yield sse_frame("queue", ctx.queues.queue_view(queue))
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
            else:
                yield sse_frame(message.name, message.data)
