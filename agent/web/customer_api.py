"""Customer-facing JSON API: join, read, leave, snooze, live stream; pairing (contract §3)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Literal

from fastapi import APIRouter, Request, Response
from pydantic import Field, StringConstraints

from agent.core.queue import QueueRuleError, Source
from agent.services.queue import JoinRequest, QueueService, QueueUnavailable
from agent.services.staff import PairingRefused
from agent.web.auth import (
    DISPLAY_COOKIE,
    STAFF_COOKIE,
    TABLET_ROLES,
    TICKET_AUTH,
    TICKET_COOKIE_PREFIX,
    client_address,
    staff_device,
    ticket_for,
)
from agent.web.context import WebContext
from agent.web.errors import ApiError
from agent.web.models import (
    PairedOut,
    RequestBody,
    SummaryOut,
    TicketCreated,
    TicketOut,
    summary_out,
)
from agent.web.wording import error_message, request_locale

TICKET_COOKIE_MAX_AGE_S = 12 * 3600
Phone = Annotated[str, StringConstraints(pattern=r"^\+[1-9][0-9]{6,14}$")]


class JoinBody(RequestBody):
    # Required from phones; a staff tablet leaves it out to add a walk-in (contract 8.7).
    window_token: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    name: Annotated[str, StringConstraints(max_length=40)] = ""
    party_size: int = Field(default=1, ge=1, le=20)
    locale: Literal["fr", "en"] = "en"
    phone: Phone | None = None  # only sent when the customer ticked SMS consent
    # Extension: the loyalty pass the brand's app passes in the join link (`p=`), so the
    # customer's ticket is checked in when they are recognised at the door.
    customer_pass: Annotated[str, StringConstraints(max_length=1024)] | None = None


class PairBody(RequestBody):
    code: Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$")]
    device_name: Annotated[str, StringConstraints(min_length=1, max_length=64)]


# Refusals that say the presented window token was wrong or too old: what guessing gets.
WRONG_TOKEN_REFUSALS = frozenset({"window_token_expired"})


class JoinBudget:
    """One join attempt's places in the join limits, taken before the join awaits anything
    (so concurrent attempts cannot all pass the check first) and settled by its outcome: an
    accepted join keeps its places in the join quotas (per client, per token) and gives back
    its place in the wrong-token budget; a refusal for a wrong or expired token keeps only
    that one; any other refusal or failure (closed, full, storage) keeps none."""

    def __init__(self) -> None:
        self.keeps_quota = False
        self.keeps_wrong_token = True  # until the outcome is known, it may be a guess

    def accepted(self) -> None:
        self.keeps_quota, self.keeps_wrong_token = True, False

    def refused(self, code: str) -> None:
        self.keeps_quota, self.keeps_wrong_token = False, code in WRONG_TOKEN_REFUSALS


@contextmanager
def join_budget(
    ctx: WebContext, queue: str, client: str, token: str, locale: str
) -> Iterator[JoinBudget]:
    """Refuse with 429 if any limit is used up; otherwise count the attempt in all three
    and give back, when the block ends, what its outcome does not use."""
    now = ctx.clock.monotonic()
    wrong, per_client, per_token = (
        ctx.wrong_token_limit,
        ctx.join_limit_client,
        ctx.join_limit_token,
    )
    if not wrong.allow(client, now):
        ctx.metrics.joins_refused.labels(queue=queue, reason="wrong_tokens").inc()
        message = error_message(locale, "too_many_attempts")
        raise ApiError(429, "too_many_attempts", message)
    # Refund only what was counted: hits at the same instant are alike, so a refund of an
    # uncounted attempt would take back another request's place.
    counted = per_client.allow(client, now)
    if not counted or not per_token.allow(token, now):
        wrong.refund(client, now)
        if counted:
            per_client.refund(client, now)
        ctx.metrics.joins_refused.labels(queue=queue, reason="rate_limited").inc()
        raise ApiError(429, "rate_limited", "Too many tickets from here. Please wait a bit.")
    budget = JoinBudget()
    try:
        yield budget
    finally:
        if not budget.keeps_quota:
            per_client.refund(client, now)
            per_token.refund(token, now)
        if not budget.keeps_wrong_token:
            wrong.refund(client, now)


def rule_error(exc: QueueRuleError, locale: str, action: str | None = None) -> ApiError:
    """A refusal from the queue, worded in the caller's language."""
    status = 403 if exc.code in ("window_token_expired", "closed") else 409
    return ApiError(status, exc.code, error_message(locale, exc.code, action))


def queue_or_404(ctx: WebContext, queue: str) -> None:
    if queue not in ctx.queues.queue_ids():
        raise ApiError(404, "not_found", f"No queue called {queue[:40]!r} here.")


def customer_router(ctx: WebContext) -> APIRouter:
    router = APIRouter()
    queues: QueueService = ctx.queues

    @router.get("/api/v1/queues/{queue}/summary")
    async def summary(queue: str) -> SummaryOut:
        """Extension: what the join page and the window screen show (no personal data)."""
        queue_or_404(ctx, queue)
        return summary_out(queues.summary(queue), store_full=ctx.store_full())

    @router.post("/api/v1/queues/{queue}/tickets", status_code=201)
    async def join(
        queue: str, body: JoinBody, request: Request, response: Response
    ) -> TicketCreated:
        queue_or_404(ctx, queue)
        locale = request_locale(request, body.locale if "locale" in body.model_fields_set else None)
        if body.window_token is None:
            return await walk_in(ctx, queue, body, request, locale)
        client = client_address(request, ctx.config.http.trusted_proxies)
        request_ = JoinRequest(
            body.window_token,
            body.name,
            body.party_size,
            body.locale,
            body.phone,
            customer_pass=body.customer_pass or None,
        )
        with join_budget(ctx, queue, client, body.window_token, locale) as budget:
            try:
                ticket, secret = await queues.join(queue, request_, client)
            except QueueUnavailable as exc:
                budget.refused(exc.code)
                raise rule_error(exc, locale) from None
            budget.accepted()
        response.set_cookie(
            TICKET_COOKIE_PREFIX + ticket.id,
            secret,
            max_age=TICKET_COOKIE_MAX_AGE_S,
            httponly=True,
            samesite="lax",
            secure=ctx.secure_cookies,
        )
        return TicketCreated(ticket=TicketOut.model_validate(queues.view(ticket)), secret=secret)

    @router.get("/api/v1/tickets/{ticket_id}", dependencies=TICKET_AUTH)
    async def read(ticket_id: str, request: Request) -> TicketOut:
        return TicketOut.model_validate(queues.view(await ticket_for(request, queues, ticket_id)))

    @router.delete("/api/v1/tickets/{ticket_id}", dependencies=TICKET_AUTH)
    async def leave(ticket_id: str, request: Request) -> TicketOut:
        ticket = await ticket_for(request, queues, ticket_id)
        try:
            return TicketOut.model_validate(queues.view(await queues.leave(ticket)))
        except QueueRuleError as exc:
            raise rule_error(exc, request_locale(request, ticket.locale), "leave") from None

    @router.post("/api/v1/tickets/{ticket_id}/snooze", dependencies=TICKET_AUTH)
    async def snooze(ticket_id: str, request: Request) -> TicketOut:
        """Extension: "I need a few more minutes" (once per ticket)."""
        ticket = await ticket_for(request, queues, ticket_id)
        try:
            return TicketOut.model_validate(queues.view(await queues.snooze(ticket)))
        except QueueRuleError as exc:
            raise rule_error(exc, request_locale(request, ticket.locale), "snooze") from None

    @router.get("/api/v1/tickets/{ticket_id}/stream", dependencies=TICKET_AUTH)
    async def stream(ticket_id: str, request: Request) -> Response:
        ticket = await ticket_for(request, queues, ticket_id)
        return ctx.ticket_streams.response(ticket)

    @router.post("/api/v1/pair")
    async def pair(body: PairBody, request: Request, response: Response) -> PairedOut:
        try:
            paired = await ctx.staff.pair(
                body.code,
                body.device_name,
                client_address(request, ctx.config.http.trusted_proxies),
            )
        except PairingRefused as exc:
            status = 429 if exc.code == "too_many_attempts" else 403
            message = error_message(request_locale(request), exc.code)
            raise ApiError(status, exc.code, message) from None
        response.set_cookie(
            # A display's own cookie: the staff pages and stream never read it (contract 8.1).
            STAFF_COOKIE if paired.role in TABLET_ROLES else DISPLAY_COOKIE,
            paired.token,
            max_age=365 * 24 * 3600,
            httponly=True,
            samesite="strict",
            secure=ctx.secure_cookies,
        )
        return PairedOut(token=paired.token)

    return router


async def walk_in(
    ctx: WebContext, queue: str, body: JoinBody, request: Request, locale: str
) -> TicketCreated:
    """Contract 8.7: a paired tablet adds someone standing at the counter. Not limited per
    address (a busy counter adds many from one tablet) and no cookie: the tablet does not
    hold the ticket. Without a staff token this is the join it always was: a window token
    is required (the same 422 as a body without one)."""
    if not request.headers.get("authorization"):
        raise ApiError(422, "invalid_body", "window_token: Field required")
    await staff_device(request, ctx)
    request_ = JoinRequest(
        "",
        body.name,
        body.party_size,
        body.locale,
        body.phone,
        customer_pass=body.customer_pass or None,
        source=Source.STAFF,
    )
    try:
        ticket, secret = await ctx.queues.join(queue, request_, "staff")
    except QueueUnavailable as exc:
        raise rule_error(exc, locale) from None
    if ctx.printing is not None:
        ctx.printing.walk_in(ticket, secret)  # queued: the answer never waits for paper
    return TicketCreated(ticket=TicketOut.model_validate(ctx.queues.view(ticket)), secret=secret)
