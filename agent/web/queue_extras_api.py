"""Issue 14's staff routes beyond contract 8.7: priority classes on waiting tickets, and staff
checking a booking of the day in by hand (appointments in docs/queue.md). Bearer token from
pairing, as for every staff route; the tablet is checked before the body."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Depends, Request

from agent.core.queue import QueueRuleError, Ticket
from agent.services.printing import ticket_link
from agent.web.auth import STAFF_AUTH, staff_device
from agent.web.context import WebContext
from agent.web.errors import ApiError
from agent.web.i18n import strings
from agent.web.models import BookingCheckedIn, PriorityBody, StaffTicketOut
from agent.web.staff_api import staff_rule_error
from agent.web.window import qr_svg_document
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
    async def check_in_booking(appointment_id: str, request: Request) -> BookingCheckedIn:
        """Check a booking of today in by hand: its ticket, placed as the booking's QR code
        would place it, and the link to its ticket page (404 unknown booking; 409 checked in
        already, cancelled, no-show, too early or not today)."""
        try:
            ticket, secret = await queues.check_in_booking(appointment_id)
        except LookupError:
            raise ApiError(404, "not_found", "No such booking.") from None
        except QueueRuleError as exc:
            raise staff_rule_error(exc, request, "check_in") from None
        if ctx.printing is not None:
            ctx.printing.walk_in(ticket, secret)  # paper as for a walk-in, if they print
        link = ticket_link(ctx.config.http.public_url, ticket.id, secret)
        title = strings(request_locale(request))["appointment_link_title"]
        return BookingCheckedIn(
            ticket=StaffTicketOut.model_validate(queues.staff_view(ticket)),
            secret=secret,
            link=link,
            qr_svg=qr_svg_document(link, title),
        )

    return router
