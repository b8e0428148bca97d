"""Staff actions on an arrival card (issues 14 and 15): the outcome of a suggestion (contract
8.8 `suggestion.outcome`) and a note or preference recorded at the counter (extension,
`customer.note` / `customer.preference`, docs/suggestions.md). Both only for a customer who
consents to staff seeing their profile, from a tablet (a display's token gets 403)."""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, StringConstraints

from agent.core.playbook import KINDS
from agent.services.suggestions import SuggestionError, SuggestionService
from agent.web.auth import STAFF_AUTH, PairedDevice, staff_device
from agent.web.context import WebContext
from agent.web.errors import ApiError
from agent.web.i18n import strings
from agent.web.wording import request_locale

SuggestionKind = Literal[
    "ticket", "birthday", "first_visit", "offer", "basket", "tier", "segment", "frequency", "note"
]
if set(get_args(SuggestionKind)) != set(KINDS):  # one list of kinds, checked at import
    raise RuntimeError("SuggestionKind must list agent.core.playbook.KINDS")
_STATUS = {"no_alert": 404, "no_staff_profile": 409, "not_suggested": 409, "already_final": 409}
_ALERT_ID_MAX = 64


class OutcomeBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    kind: SuggestionKind
    offer_id: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    outcome: Literal["offered", "accepted", "declined"]


class InfoBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, str_strip_whitespace=True)

    kind: Literal["note", "preference"]
    text: Annotated[str, StringConstraints(min_length=1, max_length=500)]


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class OutcomeOut(_Out):
    alert_id: str
    kind: str
    offer_id: str | None
    outcome: str


class InfoOut(_Out):
    alert_id: str
    kind: str
    text: str


def alerts_router(ctx: WebContext, suggestions: SuggestionService) -> APIRouter:
    router = APIRouter(dependencies=STAFF_AUTH)

    async def tablet(request: Request) -> None:
        # Before the body: a caller without a tablet token learns 401, not what it sent wrong.
        request.state.tablet = await staff_device(request, ctx)

    checked_first = [Depends(tablet)]

    def refused(exc: SuggestionError, request: Request) -> ApiError:
        words = strings(request_locale(request))
        return ApiError(_STATUS.get(exc.code, 409), exc.code, words[f"err_{exc.code}"])

    def known(alert_id: str, request: Request) -> None:
        if len(alert_id) > _ALERT_ID_MAX:
            raise refused(SuggestionError("no_alert"), request)

    @router.post("/api/v1/alerts/{alert_id}/outcome", dependencies=checked_first)
    async def outcome(alert_id: str, body: OutcomeBody, request: Request) -> OutcomeOut:
        """Contract 8.8: staff offered a suggestion, or the customer accepted or declined it;
        `suggestion.outcome` goes up. 409 if the alert did not show it or it is final."""
        known(alert_id, request)
        try:
            await suggestions.record_outcome(alert_id, body.kind, body.offer_id, body.outcome)
        except SuggestionError as exc:
            raise refused(exc, request) from None
        return OutcomeOut(
            alert_id=alert_id, kind=body.kind, offer_id=body.offer_id, outcome=body.outcome
        )

    @router.post("/api/v1/alerts/{alert_id}/info", status_code=201, dependencies=checked_first)
    async def info(alert_id: str, body: InfoBody, request: Request) -> InfoOut:
        """Extension: a note or preference from the card, kept for the next visit and sent
        up as `customer.note` / `customer.preference`."""
        known(alert_id, request)
        device: PairedDevice = request.state.tablet
        try:
            await suggestions.add_info(alert_id, body.kind, body.text, device.name)
        except SuggestionError as exc:
            raise refused(exc, request) from None
        return InfoOut(alert_id=alert_id, kind=body.kind, text=body.text)

    return router
