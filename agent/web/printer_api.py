"""The counter's ticket printer over HTTP (extension): its status, "print this ticket
again", and the link the paper's QR code carries.

The QR code on a paper ticket opens `/t/{id}/open?s=SECRET`: the secret is checked, set as
the ticket's cookie (as a join from the phone would have), and the phone is sent on to the
ticket page, so the address bar, history and any Referer hold no secret after that.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from agent.services.printing import TicketPrinting
from agent.web.auth import STAFF_AUTH, TICKET_COOKIE_PREFIX, staff_device
from agent.web.context import WebContext
from agent.web.customer_api import TICKET_COOKIE_MAX_AGE_S
from agent.web.errors import ApiError
from agent.web.i18n import strings
from agent.web.models import PrinterStatusOut


def print_wording(locale: str) -> tuple[str, str]:
    """The paper's heading above the number and the hint under the QR code."""
    words = strings(locale)
    return words["print_heading"], words["print_hint"]


def printer_router(ctx: WebContext, printing: TicketPrinting) -> APIRouter:
    router = APIRouter(dependencies=STAFF_AUTH)

    @router.get("/api/v1/printer")
    async def status(request: Request) -> PrinterStatusOut:
        await staff_device(request, ctx)
        return PrinterStatusOut.model_validate(printing.status)

    @router.post("/api/v1/tickets/{ticket_id}/print", status_code=202)
    async def reprint(ticket_id: str, request: Request) -> PrinterStatusOut:
        """Queue this ticket for the printer; the outcome comes as a `print` frame."""
        await staff_device(request, ctx)
        ticket = await ctx.queues.ticket(ticket_id) if len(ticket_id) <= 64 else None
        if ticket is None:
            raise ApiError(404, "not_found", "No such ticket.")
        if not ticket.active:
            # Paper for a ticket that was served or left would send someone to wait for nothing.
            raise ApiError(409, "not_active", "This ticket has ended; there is nothing to print.")
        if not printing.reprint(ticket):
            raise ApiError(409, "no_printer", "No ticket printer is set up on this agent.")
        return PrinterStatusOut.model_validate(printing.status)

    # A link for a phone's browser, not an API: kept out of /openapi.json like the pages.
    @router.get("/t/{ticket_id}/open", include_in_schema=False)
    async def open_from_paper(ticket_id: str, request: Request, s: str = "") -> Response:
        target = f"/t/{ticket_id}" if len(ticket_id) <= 64 else "/"
        response = RedirectResponse(target, status_code=303)
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-store"
        ticket = await ctx.queues.ticket(ticket_id) if len(ticket_id) <= 64 else None
        if ticket is not None and s and len(s) <= 128 and ctx.queues.secret_matches(ticket, s):
            response.set_cookie(
                TICKET_COOKIE_PREFIX + ticket.id,
                s,
                max_age=TICKET_COOKIE_MAX_AGE_S,
                httponly=True,
                samesite="lax",
                secure=ctx.secure_cookies,
            )
        # A wrong secret lands on the ticket page without a cookie, which says "not yours":
        # the same answer as for a ticket that does not exist.
        return response

    return router
