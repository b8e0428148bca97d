"""/openapi.json as the agent really answers, beyond what FastAPI infers from the routes.

FastAPI documents each route's success body and a 422 of its own shape. The agent answers
every error with the contract's envelope (§3, `agent/web/errors.py`) instead, so here:

- every error status an operation can give is documented with the envelope: 401 (and 403
  where a credential can be the wrong one) on operations with a security scheme, 404 on those
  with path parameters, 409 on state changes a queue rule can refuse, 400 (not JSON), 413
  and 422 where a body or parameters are read, 429 where a rate limit applies, 503
  everywhere (a storage failure refuses any request, nothing changed);
- streams (paths ending in `/stream`) answer `text/event-stream`, `/metrics` Prometheus text.

The security schemes themselves come from the route dependencies in `agent/web/auth.py`.
The HTTP fuzz test (tests/security/test_http_fuzz.py) checks the answers against this
document: success and error bodies, and that every status answered is one documented here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

ENVELOPE_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "minLength": 1, "examples": ["not_found"]},
                "message": {"type": "string", "minLength": 1},
            },
        }
    },
}
# One event of a stream (the fields a Server-Sent Event carries); `data` is JSON text.
SSE_EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["data"],
    "properties": {
        "event": {"type": "string", "examples": ["ticket", "queue", "arrival", "board"]},
        "data": {"type": "string", "contentMediaType": "application/json"},
        "id": {"type": "string"},
        "retry": {"type": "integer"},
    },
}
_WHY = {
    400: "The body is not JSON, or a query parameter is malformed.",
    401: "No credential, or one that is unknown or revoked.",
    403: "A credential that is not this one's (another ticket's secret, a display's token).",
    404: "No such queue, ticket, alert or customer here.",
    409: "The queue's rules refuse this change now (nobody waiting, not called, full, ...).",
    413: "The body is over 64 KiB.",
    422: "The body or a parameter is invalid.",
    429: "A rate limit is used up; try again later.",
    503: "The device cannot save anything right now; nothing was changed.",
}
# Statuses only some operations give, by (method, path): what their code raises besides the
# rules above.
_EXTRA: dict[tuple[str, str], tuple[int, ...]] = {
    # expired code or closed, full, rate limits; a walk-in's tablet token unknown or revoked
    ("post", "/api/v1/queues/{queue}/tickets"): (401, 403, 409, 429),
    ("post", "/api/v1/pair"): (403, 429),  # a wrong, used or expired code; too many
    ("delete", "/api/v1/tickets/{ticket_id}"): (409,),
    ("post", "/api/v1/tickets/{ticket_id}/snooze"): (409,),
    ("post", "/api/v1/queues/{queue}/call-next"): (409,),
    ("post", "/api/v1/tickets/{ticket_id}/call"): (409,),
    ("post", "/api/v1/tickets/{ticket_id}/move"): (409,),
    ("post", "/api/v1/tickets/{ticket_id}/undo"): (409,),
    ("post", "/api/v1/tickets/{ticket_id}/left"): (409,),
    ("post", "/api/v1/tickets/{ticket_id}/served"): (409,),
    ("post", "/api/v1/tickets/{ticket_id}/no-show"): (409,),
    ("post", "/api/v1/tickets/{ticket_id}/recall"): (409,),
    # issue 14: a booking checked in already, cancelled, a no-show, too early or not today
    ("post", "/api/v1/appointments/{appointment_id}/check-in"): (409,),
    ("get", "/api/v1/footfall/hours"): (400, 404),  # a bad day; no footfall on this agent
    # main's ticket printer (branch 'counter'): an ended ticket; no printer set up.
    ("post", "/api/v1/tickets/{ticket_id}/print"): (409,),
    # priorities (issue 14): only a waiting ticket takes or loses a class.
    ("post", "/api/v1/tickets/{ticket_id}/priority"): (409,),
    ("delete", "/api/v1/tickets/{ticket_id}/priority"): (409,),
    # arrival cards (issue 15): an outcome already recorded, a withheld suggestion, an expired
    # offer; a customer without staff_profile consent.
    ("post", "/api/v1/alerts/{alert_id}/outcome"): (409,),
    ("post", "/api/v1/alerts/{alert_id}/info"): (409,),
}
# Operations a credential is optional on: anyone may join with a window token; a paired
# tablet adds a walk-in without one (contract 8.7). OpenAPI says "optional" with `{}`.
_OPTIONAL_SECURITY: dict[tuple[str, str], str] = {
    ("post", "/api/v1/queues/{queue}/tickets"): "Bearer",
}
# Schemes whose credential can be valid and still not this operation's (403).
_SCHEMES_WITH_FORBIDDEN = frozenset({"Bearer", "Ticket"})


def install_truthful_openapi(app: FastAPI) -> None:
    app.openapi = _generator(app)  # type: ignore[method-assign]


def _generator(app: FastAPI) -> Callable[[], dict[str, Any]]:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(title=app.title, version=app.version, routes=app.routes)
            describe(document)
            app.openapi_schema = document
        return app.openapi_schema

    return openapi


def describe(document: dict[str, Any]) -> None:
    """Add the error statuses and media types to a document FastAPI generated."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = ENVELOPE_SCHEMA
    # FastAPI's own 422 shapes are never sent: the envelope replaces them.
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            optional = _OPTIONAL_SECURITY.get((method, path))
            if optional is not None:
                operation["security"] = [{}, {optional: []}]
            _errors(method, path, operation)
            _media_types(path, operation)


def _errors(method: str, path: str, operation: dict[str, Any]) -> None:
    statuses = {503}
    parameters = operation.get("parameters", [])
    if any(p.get("in") == "path" for p in parameters):
        statuses.add(404)
    if parameters or "requestBody" in operation:
        statuses.add(422)
    if "requestBody" in operation:
        statuses.update((400, 413))  # not JSON at all; over the body limit
    security = operation.get("security", [])
    schemes = {name for requirement in security for name in requirement}
    if schemes:
        statuses.add(401)
    if schemes & _SCHEMES_WITH_FORBIDDEN and {} not in security:
        statuses.add(403)
    statuses.update(_EXTRA.get((method, path), ()))
    responses = operation.setdefault("responses", {})
    for status in sorted(statuses):
        responses[str(status)] = {
            "description": _WHY[status],
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }


def _media_types(path: str, operation: dict[str, Any]) -> None:
    success = operation.get("responses", {}).get("200")
    if success is None:
        return
    if path.endswith("/stream"):
        success["description"] = "Server-Sent Events (`event:` name, `data:` JSON), kept open."
        success["content"] = {"text/event-stream": {"schema": SSE_EVENT_SCHEMA}}
    elif path == "/metrics":
        success["content"] = {"text/plain": {"schema": {"type": "string"}}}
