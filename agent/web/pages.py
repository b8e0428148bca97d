"""HTML pages: join (/j), ticket (/t), staff tablet (/staff); the window screen is in window.py.

Server-rendered shells from package templates (string.Template, every value HTML-escaped unless
it is a fragment rendered the same way) plus small static scripts. Scripts and styles come only
from /static, so the Content-Security-Policy can forbid anything inline.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import string
from collections.abc import Mapping, Sequence
from functools import cache
from importlib import resources
from urllib.parse import urlencode

import segno
from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from agent.web.auth import staff_device, ticket_for
from agent.web.context import WebContext
from agent.web.errors import ApiError
from agent.web.i18n import (
    LANG_COOKIE,
    LOCALES,
    ahead_text,
    strings,
    wait_text,
)
from agent.web.models import to_json
from agent.web.wording import request_locale

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
_STATIC_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
_STATIC_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*\.(css|js|svg|png)$")
_LANG_COOKIE_MAX_AGE_S = 365 * 24 * 3600
MAX_TOKEN_LENGTH = 64


class Markup(str):
    """Text that is already HTML (a rendered fragment): inserted as is."""

    __slots__ = ()


@cache
def _template(name: str) -> string.Template:
    text = resources.files("agent.web").joinpath("templates").joinpath(name).read_text("utf-8")
    return string.Template(text)


@cache
def _static(name: str) -> tuple[bytes, str] | None:
    resource = resources.files("agent.web").joinpath("static").joinpath(name)
    if not resource.is_file():
        return None
    body = resource.read_bytes()
    return body, '"' + hashlib.sha256(body).hexdigest()[:20] + '"'


def render(name: str, locale: str, values: Mapping[str, str]) -> Markup:
    """Fill a template: ``$t_<key>`` are the locale's words, the rest come from ``values``."""
    mapping = {f"t_{key}": text for key, text in strings(locale).items()} | dict(values)
    escaped = {
        key: value if isinstance(value, Markup) else html.escape(value, quote=True)
        for key, value in mapping.items()
    }
    return Markup(_template(name).substitute(escaped))


def attributes(data: Mapping[str, str]) -> Markup:
    """` data-x="..."` attributes (escaped) for the page's script to read."""
    return Markup(
        "".join(f' data-{key}="{html.escape(value, quote=True)}"' for key, value in data.items())
    )


def html_page(
    locale: str,
    title: str,
    page: str,
    content: Markup,
    *,
    status: int = 200,
    data: Mapping[str, str] | None = None,
    scripts: Sequence[str] = (),
    words: Mapping[str, str] | None = None,
) -> HTMLResponse:
    tags = "\n".join(f'<script src="/static/{name}" defer></script>' for name in scripts)
    body_data = {"page": page, "strings": json.dumps(dict(words or strings(locale)))}
    body = render(
        "base.html",
        locale,
        {
            "lang": locale,
            "title": title,
            "body_class": f"page-{page}",
            "data": attributes(body_data | dict(data or {})),
            "skip": strings(locale)["skip"],
            "content": content,
            "scripts": Markup(tags),
        },
    )
    headers = dict(SECURITY_HEADERS) | {"Cache-Control": "no-store"}
    return HTMLResponse(body, status_code=status, headers=headers)


def page_locale(request: Request, fallback: str | None = None) -> str:
    return request_locale(request, fallback)


def remember_locale(request: Request, response: Response) -> None:
    """An explicit ?lang= choice is kept in a cookie for the next pages."""
    chosen = request.query_params.get("lang")
    if chosen in LOCALES:
        response.set_cookie(
            LANG_COOKIE,
            str(chosen),
            max_age=_LANG_COOKIE_MAX_AGE_S,
            samesite="lax",
            secure=request.url.scheme == "https",
        )


def lang_switch(request: Request, locale: str) -> Markup:
    """FR / EN links to the same page, keeping its other query parameters."""
    query = {k: v for k, v in request.query_params.items() if k != "lang"}
    hrefs = {code: request.url.path + "?" + urlencode(query | {"lang": code}) for code in LOCALES}
    current = Markup(' aria-current="true"')
    return render(
        "lang_switch.html",
        locale,
        {
            "fr_href": hrefs["fr"],
            "en_href": hrefs["en"],
            "fr_current": current if locale == "fr" else Markup(""),
            "en_current": current if locale == "en" else Markup(""),
        },
    )


def message_page(
    ctx: WebContext, locale: str, kind: str, heading: str, text: str, status: int
) -> HTMLResponse:
    content = render(
        "message.html",
        locale,
        {"store": ctx.config.store.name, "kind": kind, "heading": heading, "text": text},
    )
    return html_page(locale, heading, "message", content, status=status)


def not_found_page(ctx: WebContext, request: Request) -> HTMLResponse:
    locale = page_locale(request)
    words = strings(locale)
    return message_page(
        ctx, locale, "notfound", words["notfound_title"], words["notfound_body"], 404
    )


def pages_router(ctx: WebContext) -> APIRouter:
    from agent.web.window import add_window_routes

    router = APIRouter(include_in_schema=False)

    @router.get("/static/{name}")
    async def static(name: str, request: Request) -> Response:
        return static_response(name, request)

    @router.get("/j/{queue}")
    async def join(queue: str, request: Request) -> HTMLResponse:
        return join_page(ctx, queue, request)

    @router.get("/t/{ticket_id}")
    async def ticket(ticket_id: str, request: Request) -> HTMLResponse:
        return await ticket_page(ctx, ticket_id, request)

    @router.get("/staff")
    async def staff(request: Request) -> HTMLResponse:
        return await staff_page(ctx, request)

    add_window_routes(router, ctx)
    return router


def static_response(name: str, request: Request) -> Response:
    found = _static(name) if _STATIC_NAME.match(name) else None
    if found is None:
        raise ApiError(404, "not_found", "No such file.")
    body, etag = found
    headers = {"ETag": etag, "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    media_type = _STATIC_TYPES["." + name.rsplit(".", 1)[1]]
    return Response(body, media_type=media_type, headers=headers)


def join_page(ctx: WebContext, queue: str, request: Request) -> HTMLResponse:
    if queue not in ctx.queues.queue_ids():
        return not_found_page(ctx, request)
    store = ctx.config.store.name
    locale = page_locale(request)
    words = strings(locale)
    summary = ctx.queues.summary(queue)
    token = request.query_params.get("w", "")
    if not summary.open:
        body = notice(locale, "closed", words["closed_title"], words["closed_body"])
    elif summary.full:
        body = notice(locale, "full", words["full_title"], words["full_body"])
    elif not token_looks_valid(ctx, queue, token):
        body = notice(locale, "expired", words["scan_title"], words["scan_body"])
    else:
        # The form carries a form token (good for a while) rather than the scanned code,
        # which rotates away within two minutes of being scanned.
        body = render("join_form.html", locale, {"token": ctx.queues.form_token(queue)})
        if ctx.store_full():
            banner = notice(
                locale, "store-full", words["store_full_title"], words["store_full_body"]
            )
            body = Markup(str(banner) + str(body))
    content = render(
        "join.html",
        locale,
        {
            "store": store,
            "lang_switch": lang_switch(request, locale),
            "label": ctx.queues.queue_config(queue).label,
            "waiting": str(summary.waiting),
            "wait": wait_text(locale, summary.eta.low_s, summary.eta.high_s),
            "body": body,
        },
    )
    response = html_page(
        locale,
        f"{words['join_title']} · {store}",
        "join",
        content,
        data={"queue": queue},
        scripts=("common.js", "join.js"),
    )
    remember_locale(request, response)
    return response


async def ticket_page(ctx: WebContext, ticket_id: str, request: Request) -> HTMLResponse:
    try:
        ticket = await ticket_for(request, ctx.queues, ticket_id)
    except ApiError as exc:
        locale = page_locale(request)
        words = strings(locale)
        title, text = words["not_mine_title"], words["not_mine_body"]
        return message_page(ctx, locale, "not-mine", title, text, exc.status)
    store = ctx.config.store.name
    locale = page_locale(request, ticket.locale)
    words = strings(locale)
    view = ctx.queues.view(ticket)
    known = ticket.queue in ctx.queues.queue_ids()
    content = render(
        "ticket.html",
        locale,
        {
            "store": store,
            "lang_switch": lang_switch(request, locale),
            "label": ctx.queues.queue_config(ticket.queue).label if known else ticket.queue,
            "number": str(ticket.number),
            "state": words[f"state_{ticket.state.value}"],
            "ahead": ahead_text(locale, view.position),
            "wait": wait_text(locale, view.eta.low_s, view.eta.high_s),
            # Inline SVG: no extra request, no image host for the page's CSP to allow.
            "code": Markup(
                segno.make_qr(ctx.queues.ticket_code(ticket), error="m").svg_inline(
                    scale=5, border=4, dark="#000", light="#fff"
                )
            ),
        },
    )
    response = html_page(
        locale,
        f"{words['ticket_title']} {ticket.number} · {store}",
        "ticket",
        content,
        data={"ticket": json.dumps(to_json(view))},
        scripts=("common.js", "ticket.js"),
    )
    remember_locale(request, response)
    return response


async def staff_page(ctx: WebContext, request: Request) -> HTMLResponse:
    """200 with the app for a paired tablet (cookie), else 401 with the pairing form."""
    store = ctx.config.store.name
    locale = page_locale(request)
    words = strings(locale)
    title = f"{words['staff_title']} · {store}"
    switch = lang_switch(request, locale)
    try:
        await staff_device(request, ctx, allow_cookie=True)
    except ApiError:
        pair = render("pair.html", locale, {"hidden": "", "message": words["pair_intro"]})
        content = render(
            "pair_page.html", locale, {"store": store, "lang_switch": switch, "pair": pair}
        )
        response = html_page(
            locale, title, "pair", content, status=401, scripts=("common.js", "staff.js")
        )
        response.headers["WWW-Authenticate"] = 'Bearer realm="retail-edge staff"'
        remember_locale(request, response)
        return response
    columns = Markup(
        "\n".join(
            render(
                "staff_column.html",
                locale,
                {
                    "queue": queue,
                    "col_id": f"queue-{index}",
                    "label": ctx.queues.queue_config(queue).label,
                },
            )
            for index, queue in enumerate(ctx.queues.queue_ids())
        )
    )
    pair = render(
        "pair.html", locale, {"hidden": Markup(" hidden"), "message": words["pair_intro"]}
    )
    content = render(
        "staff.html",
        locale,
        {"store": store, "lang_switch": switch, "columns": columns, "pair": pair},
    )
    response = html_page(locale, title, "staff", content, scripts=("common.js", "staff.js"))
    remember_locale(request, response)
    return response


def notice(locale: str, kind: str, heading: str, text: str) -> Markup:
    return render("notice.html", locale, {"kind": kind, "heading": heading, "text": text})


def token_looks_valid(ctx: WebContext, queue: str, token: str) -> bool:
    """Checked when the page loads, so nobody fills in a form that will be refused."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return False
    return ctx.queues.token_valid(queue, token)
