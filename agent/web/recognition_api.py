"""Staff actions on recognised customers: take an arrival alert, add a note (contract §3)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, StringConstraints

from agent.services.recognition import RecognitionService
from agent.web.auth import STAFF_AUTH, staff_device
from agent.web.context import WebContext
from agent.web.errors import ApiError
from agent.web.models import AlertTaken, NoteAdded


class NoteBody(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    text: Annotated[str, StringConstraints(min_length=1, max_length=500)]


def recognition_router(ctx: WebContext, recognition: RecognitionService) -> APIRouter:
    router = APIRouter(dependencies=STAFF_AUTH)

    @router.post("/api/v1/alerts/{alert_id}/ack")
    async def ack(alert_id: str, request: Request) -> AlertTaken:
        device = await staff_device(request, ctx)
        if len(alert_id) > 64:
            raise ApiError(404, "not_found", "No such alert.")
        taken_by = await recognition.acknowledge(alert_id, device.name)
        if taken_by is None:
            raise ApiError(404, "not_found", "No such alert (it may have been withdrawn).")
        return AlertTaken(alert_id=alert_id, taken_by=taken_by)

    @router.post("/api/v1/customers/{customer_id}/notes", status_code=201)
    async def note(customer_id: str, body: NoteBody, request: Request) -> NoteAdded:
        """Extension: a staff note on a consenting customer, sent up as `customer.note`."""
        device = await staff_device(request, ctx)
        if not await recognition.add_note(customer_id, body.text, device.name):
            # Same answer whether unknown or not consenting: nothing to learn by probing.
            raise ApiError(404, "not_found", "No such customer here.")
        return NoteAdded(customer_id=customer_id, note=body.text)

    return router
