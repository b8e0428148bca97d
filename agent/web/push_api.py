"""Web Push routes (contract 8.6): the VAPID public key, a ticket's subscription, and the
service worker, served from the root so that its scope covers the ticket pages (/t/...).
Also the words of a push, in the ticket's language (the push service asks for them)."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Annotated

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, StringConstraints

from agent.core.push import MAX_ENDPOINT_CHARS, PushKind, SubscriptionRefused
from agent.core.queue import QueueRuleError
from agent.services.push import PushService
from agent.web.auth import TICKET_AUTH, ticket_for
from agent.web.context import WebContext
from agent.web.customer_api import rule_error
from agent.web.errors import ApiError
from agent.web.i18n import fill, strings
from agent.web.models import RequestBody
from agent.web.rendering import SECURITY_HEADERS
from agent.web.wording import request_locale

# base64url of a 65-byte point is 87 characters, of a 16-byte secret 22; a little slack
# for padding, nothing more.
_Key = Annotated[str, StringConstraints(min_length=1, max_length=100)]


class PushKeys(RequestBody):
    p256dh: _Key
    auth: _Key


class PushSubscriptionBody(RequestBody):
    """The browser's `PushSubscription.toJSON()`."""

    endpoint: Annotated[str, StringConstraints(min_length=1, max_length=MAX_ENDPOINT_CHARS)]
    keys: PushKeys
    # Browsers include it (null almost always); accepted, not used: the subscription lives
    # as long as the ticket anyway.
    expirationTime: int | None = None  # noqa: N815 - the browser's field name


class PushKeyOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    public_key: str  # base64url, uncompressed P-256 point (the VAPID key)


_MESSAGES = {
    "push_endpoint_not_allowed": {
        "en": "This browser's push service is not one this store can notify.",
        "fr": "Le service de notification de ce navigateur n'est pas pris en charge ici.",
    },
    "push_keys_invalid": {
        "en": "This subscription's keys are not valid.",
        "fr": "Les clés de cet abonnement ne sont pas valides.",
    },
}


def push_wording(kind: PushKind, locale: str, number: int, queue: str) -> tuple[str, str]:
    """The notification's title and body in the ticket's language."""
    words = strings(locale)
    title = fill(words[f"push_{kind}_title"], number=number, queue=queue)
    return title, fill(words[f"push_{kind}_body"], number=number, queue=queue)


@cache
def _worker_script() -> bytes:
    return resources.files("agent.web").joinpath("static").joinpath("sw.js").read_bytes()


def push_router(ctx: WebContext, push: PushService) -> APIRouter:
    router = APIRouter()

    @router.get("/api/v1/push/key")
    async def key() -> PushKeyOut:
        return PushKeyOut(public_key=push.public_key)

    @router.put("/api/v1/tickets/{ticket_id}/push", status_code=204, dependencies=TICKET_AUTH)
    async def subscribe(ticket_id: str, body: PushSubscriptionBody, request: Request) -> Response:
        ticket = await ticket_for(request, ctx.queues, ticket_id)
        locale = request_locale(request, ticket.locale)
        try:
            await push.subscribe(ticket, body.endpoint, body.keys.p256dh, body.keys.auth)
        except SubscriptionRefused as exc:
            message = _MESSAGES[exc.code]["fr" if locale == "fr" else "en"]
            raise ApiError(422, exc.code, message) from None
        except QueueRuleError as exc:
            raise rule_error(exc, locale) from None
        return Response(status_code=204)

    @router.get("/sw.js", include_in_schema=False)
    async def service_worker() -> Response:
        headers = dict(SECURITY_HEADERS) | {
            "Cache-Control": "no-cache",  # browsers check for a new worker on each visit
            "Service-Worker-Allowed": "/",
        }
        return Response(
            _worker_script(), media_type="text/javascript; charset=utf-8", headers=headers
        )

    return router
