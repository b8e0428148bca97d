"""Who is calling: a customer holding a ticket secret, or a paired staff tablet."""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Network, IPv6Address, IPv6Network, ip_address
from typing import Protocol

from fastapi import Request, Security
from fastapi.params import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.http import HTTPBase
from starlette.requests import HTTPConnection

from agent.core.queue import Ticket
from agent.services.queue import QueueService
from agent.web.context import WebContext
from agent.web.errors import ApiError

TICKET_COOKIE_PREFIX = "rt_"
STAFF_COOKIE = "staff_token"
DISPLAY_COOKIE = "display_token"  # set by pairing a display (window screen, board)
STAFF_ROLE = "staff"
MANAGER_ROLE = "manager"  # a staff tablet that also opens the manager view
TABLET_ROLES = (STAFF_ROLE, MANAGER_ROLE)


class PairedDevice(Protocol):
    """What a route learns about the tablet calling it (from the staff service, whose store
    record it is: the web layer names only what it uses)."""

    @property
    def id(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def role(self) -> str: ...


Networks = Sequence[IPv4Network | IPv6Network]
# Longest address text kept as a rate-limit key (an IPv6 address with a zone fits).
_MAX_ADDRESS = 64


def client_address(request: Request, trusted_proxies: Networks) -> str:
    """The address rate limits count. The TCP peer, unless it is one of ``[http]
    trusted_proxies``: then the rightmost X-Forwarded-For entry that is not itself a trusted
    proxy, since each proxy appends the address it saw and everything left of that entry is
    whatever the client wrote. This is the only place that reads the header: uvicorn's own
    proxy handling is off (agent/web/server.py), so no local process can forge an address
    unless the operator said to trust it."""
    peer = request.client.host if request.client else "unknown"
    if not _is_trusted(peer, trusted_proxies):
        return peer
    hops = [
        hop.strip()
        for header in request.headers.getlist("x-forwarded-for")
        for hop in header.split(",")
        if hop.strip()
    ]
    for hop in reversed(hops):
        if not _is_trusted(hop, trusted_proxies):
            return hop[:_MAX_ADDRESS]
    # Every hop is a trusted proxy (or there is no header): the farthest one is the client.
    return hops[0][:_MAX_ADDRESS] if hops else peer


def _is_trusted(host: str, trusted_proxies: Networks) -> bool:
    if not trusted_proxies:
        return False
    try:
        address = ip_address(host)
    except ValueError:
        return False
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # a dual-stack socket shows IPv4 peers as ::ffff:a.b.c.d
    return any(address in network for network in trusted_proxies)


class TicketSecret(HTTPBase):
    """`Authorization: Ticket <secret>` (contract §3): the secret a join answered with. Like
    HTTPBearer, but for the scheme name `Ticket`; None for anything else."""

    async def __call__(self, request: HTTPConnection) -> HTTPAuthorizationCredentials | None:
        given = await super().__call__(request)
        return given if given is not None and given.scheme.lower() == "ticket" else None


# The security schemes /openapi.json declares. They only read the header (auto_error off):
# the functions below decide, so every refusal has the contract's error envelope.
BEARER = HTTPBearer(
    scheme_name="Bearer",
    description="A paired staff tablet's token from POST /api/v1/pair "
    "(`Authorization: Bearer <token>`); the staff stream also accepts the cookie pairing set. "
    "A display's token is refused (403).",
    auto_error=False,
)
DISPLAY = HTTPBearer(
    scheme_name="Display",
    description="A paired display's or tablet's token (`Authorization: Bearer <token>`), or "
    "the cookie pairing on a display page or a tablet set (contract 8.1).",
    auto_error=False,
)
TICKET = TicketSecret(
    scheme="Ticket",
    scheme_name="Ticket",
    description="A ticket's secret from its join (`Authorization: Ticket <secret>`), or the "
    "`rt_<ticket id>` cookie the join set.",
    auto_error=False,
)
# Route dependencies that put the scheme on an operation in /openapi.json, e.g.
# `APIRouter(dependencies=STAFF_AUTH)` or `@router.get(..., dependencies=TICKET_AUTH)`.
STAFF_AUTH: list[Depends] = [Security(BEARER)]
TICKET_AUTH: list[Depends] = [Security(TICKET)]
DISPLAY_AUTH: list[Depends] = [Security(DISPLAY)]


async def _credential(request: Request, scheme: HTTPBase) -> str | None:
    given = await scheme(request)
    if given is None or not given.credentials.strip():
        return None
    return given.credentials.strip()


async def ticket_for(request: Request, queues: QueueService, ticket_id: str) -> Ticket:
    """The ticket, if the caller holds its secret (header, or the cookie the join set)."""
    if len(ticket_id) > 64:
        raise ApiError(404, "not_found", "No such ticket.")
    header = await _credential(request, TICKET)
    secret = header or request.cookies.get(TICKET_COOKIE_PREFIX + ticket_id)
    if not secret:
        raise ApiError(401, "unauthorized", "This ticket's secret is needed to see it.")
    ticket = await queues.ticket(ticket_id)
    # The same answer for "no such ticket" and "wrong secret": ids cannot be probed.
    if ticket is None or not queues.secret_matches(ticket, secret):
        raise ApiError(403, "forbidden", "This is not your ticket.")
    return ticket


async def staff_device(
    request: Request, ctx: WebContext, *, allow_cookie: bool = False
) -> PairedDevice:
    """A paired, unrevoked tablet. State-changing calls need the Bearer header (a cookie
    alone is refused, so another site cannot make a tablet's browser act: CSRF)."""
    token = await _credential(request, BEARER)
    if token is None and allow_cookie:
        token = request.cookies.get(STAFF_COOKIE)
    if not token:
        raise ApiError(401, "unauthorized", "Pair this tablet first (retail-edge pair).")
    device = await ctx.staff.authenticate(token)
    if device is None:
        raise ApiError(401, "unauthorized", "This tablet's pairing was revoked or is unknown.")
    if device.role not in TABLET_ROLES:
        # A window screen's token opens the display pages and nothing else (contract 8.1).
        raise ApiError(403, "forbidden", "This device is paired as a display, not a tablet.")
    return device


async def manager_device(request: Request, ctx: WebContext) -> PairedDevice:
    """A paired tablet with the manager role (`retail-edge pair --role manager`): 401 as for
    staff routes, 403 for a plain staff tablet or a display. Read-only routes, so the
    tablet's cookie is enough (a CSV download is a plain link)."""
    device = await staff_device(request, ctx, allow_cookie=True)
    if device.role != MANAGER_ROLE:
        raise ApiError(403, "forbidden", "This tablet is not paired as a manager's.")
    return device


async def display_device(request: Request, ctx: WebContext) -> PairedDevice | None:
    """A paired, unrevoked display or tablet (Bearer header, or the cookie that pairing on a
    display page or a tablet set), for the display pages; None for anyone else. Those pages
    only read, so a cookie is enough."""
    candidates = (
        await _credential(request, DISPLAY),
        request.cookies.get(DISPLAY_COOKIE),
        request.cookies.get(STAFF_COOKIE),
    )
    for token in candidates:
        if token:
            device = await ctx.staff.authenticate(token)
            if device is not None:
                return device
    return None
