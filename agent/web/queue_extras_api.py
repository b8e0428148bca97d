"""Issue 14's staff routes beyond contract 8.7: priority classes on waiting tickets, and staff
checking a booking of the day in by hand (appointments in docs/queue.md). Bearer token from
pairing, as for every staff route; the tablet is checked before the body."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Depends, Request

from agent.core.queue import QueueRuleError, Ticket
from agent.web.auth import STAFF_AUTH, staff_device
from agent.web.context import WebContext
from agent.web.errors import ApiError
from agent.web.models import PriorityBody, StaffTicketOut
from agent.web.staff_api import staff_rule_error
from agent.web.wording import error_message, request_locale


def queue_extras_router(ctx: WebContext) -> APIRouter:
    router = APIRouter(dependencies=STAFF_AUTH)
    queues = ctx.queues

    async def act(
        request: Request, action: str, operation: Callable[[], Awaitable[Ticket]]
    ) -> StaffTicketOut:
        try:
            changed = await operation()
        except LookupError:
            raise ApiError(404, "not_found", "No such ticket.") from None
        except QueueRuleError as exc:
            if exc.code == "unknown_priority":  # the body named no class: not the state
                message = error_message(request_locale(request), exc.code)
                raise ApiError(422, exc.code, message) from None
            raise staff_rule_error(exc, request, action) from None
        return StaffTicketOut.model_validate(queues.staff_view(changed))

    async def tablet(request: Request) -> None:
        await staff_device(request, ctx)

    @router.post("/api/v1/tickets/{ticket_id}/priority", dependencies=[Depends(tablet)])
    async def prioritise(ticket_id: str, body: PriorityBody, request: Request) -> StaffTicketOut:
        """Put a waiting ticket in a priority class (409 unless waiting, 422 unknown class)."""
        return await act(request, "priority", lambda: queues.prioritise(ticket_id, body.priority))

    @router.delete("/api/v1/tickets/{ticket_id}/priority")
    async def unprioritise(ticket_id: str, request: Request) -> StaffTicketOut:
        """Take a waiting ticket out of its priority class: back to its join-time place."""
        await staff_device(request, ctx)
        return await act(request, "priority", lambda: queues.prioritise(ticket_id, None))

    @router.post("/api/v1/appointments/{appointment_id}/check-in", dependencies=[Depends(tablet)])
    async def check_in_booking(appointment_id: str, request: Request) -> StaffTicketOut:
        """Check a booking of today in by hand: its ticket, placed as the booking's QR code
        would place it (404 unknown booking; 409 checked in already, cancelled, no-show,
        too early or not today)."""
        try:
            ticket = await queues.check_in_booking(appointment_id)
        except LookupError:
            raise ApiError(404, "not_found", "No such booking.") from None
        except QueueRuleError as exc:
            raise staff_rule_error(exc, request, "check_in") from None
        return StaffTicketOut.model_validate(queues.staff_view(ticket))

    return router
