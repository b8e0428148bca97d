"""HTML pages: join (/j), ticket (/t), staff tablet (/staff) and the static files; the window
screen's routes are in window.py, and what every page is rendered with in rendering.py."""

from __future__ import annotations

import hashlib
import html
import json
import re
from functools import cache
from importlib import resources
from urllib.parse import urlencode

import segno
from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from agent.web.auth import MANAGER_ROLE, staff_device, ticket_for
from agent.web.context import WebContext
from agent.web.errors import ApiError
from agent.web.i18n import ahead_text, eta_clock_text, fill, strings, wait_text
from agent.web.models import to_json
from agent.web.rendering import (
    Markup,
    html_page,
    lang_switch,
    message_page,
    not_found_page,
    notice,
    page_locale,
    remember_locale,
    render,
)
from agent.web.window import add_window_routes

_STATIC_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
_STATIC_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*\.(css|js|svg|png)$")
MAX_TOKEN_LENGTH = 64


@cache
def _static(name: str) -> tuple[bytes, str] | None:
    resource = resources.files("agent.web").joinpath("static").joinpath(name)
    if not resource.is_file():
        return None
    body = resource.read_bytes()
    return body, '"' + hashlib.sha256(body).hexdigest()[:20] + '"'


def pages_router(ctx: WebContext) -> APIRouter:
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
            body = Markup(str(capacity_notice(ctx, queue, locale)) + str(body))
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
    zone = ctx.config.store.timezone
    serving = (await ctx.queues.board([ticket.queue])).queues if known else ()
    now_serving = serving[0].serving[0].number if serving and serving[0].serving else None
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
            "eta_clock": eta_clock_text(
                locale, ctx.clock.now(), view.eta.low_s, view.eta.high_s, zone
            ),
            "serving": str(now_serving) if now_serving is not None else words["serving_none"],
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
        data={
            "ticket": json.dumps(to_json(view)),
            "zone": zone,
            # Every queue's label: after a staff move the page names the new queue at once.
            "queues": json.dumps(
                {q: ctx.queues.queue_config(q).label for q in ctx.queues.queue_ids()}
            ),
        },
        scripts=("common.js", "sound.js", "ticket.js"),
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
        device = await staff_device(request, ctx, allow_cookie=True)
    except ApiError as exc:
        if exc.status == 403:  # a display's token: not a tablet (contract 8.1)
            heading, text = words["display_only_title"], words["display_only_body"]
            return message_page(ctx, locale, "display-only", heading, text, 403)
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
        {
            "store": store,
            "lang_switch": switch,
            "columns": columns,
            "pair": pair,
            "manager_link": manager_link(device.role, locale),
        },
    )
    alerts = ctx.config.alerts  # how long a card stays up, how many earlier ones are listed
    # The priority classes a waiting row offers, by rank, in the tablet's language.
    classes = [{"name": p.name, "label": p.label(locale)} for p in ctx.config.priorities]
    response = html_page(
        locale,
        title,
        "staff",
        content,
        data={
            "alert-display-s": str(alerts.display_s),
            "alert-earlier-max": str(alerts.earlier_max),
            "priorities": json.dumps(classes),
            "zone": ctx.config.store.timezone,
        },
        scripts=("common.js", "staff_alert_words.js", "staff_alerts.js", "staff.js", "printer.js"),
    )
    remember_locale(request, response)
    return response


def manager_link(role: str, locale: str) -> Markup:
    """The way to the manager view, on a manager's tablet only (docs/counter.md)."""
    if role != MANAGER_ROLE:
        return Markup("")
    label = html.escape(strings(locale)["manager_link"])
    return Markup(f'<a id="manager-link" class="badge manager-link" href="/manager">{label}</a>')


def _is_entry(ctx: WebContext, queue: str) -> bool:
    # `[queues.Q] entry = true` (contract 8.7) arrives with the staff actions; a config
    # without the key has no entry queue.
    return bool(getattr(ctx.queues.queue_config(queue), "entry", False))


def capacity_notice(ctx: WebContext, queue: str, locale: str) -> Markup:
    """The store at capacity, said apart from the queue's own purpose: on the entry queue,
    joining is how to get in; on any other queue, the way in is the entry queue (with a link
    to its form), and this queue is for later, inside."""
    words = strings(locale)
    label = ctx.queues.queue_config(queue).label
    title = words["store_full_title"]
    if _is_entry(ctx, queue):
        return notice(locale, "store-full", title, words["store_full_entry_body"])
    entries = [q for q in ctx.queues.queue_ids() if _is_entry(ctx, q)]
    if not entries:
        return notice(locale, "store-full", title, words["store_full_noentry_body"])
    entry = entries[0]
    entry_label = ctx.queues.queue_config(entry).label
    return render(
        "notice_link.html",
        locale,
        {
            "kind": "store-full",
            "heading": title,
            "text": fill(words["store_full_other_body"], entry=entry_label, label=label),
            # The customer scanned this store's window, so the entry queue's form opens too.
            "href": f"/j/{entry}?" + urlencode({"w": ctx.queues.form_token(entry), "lang": locale}),
            "link": fill(words["store_full_other_link"], entry=entry_label),
        },
    )


def token_looks_valid(ctx: WebContext, queue: str, token: str) -> bool:
    """Checked when the page loads, so nobody fills in a form that will be refused."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return False
    return ctx.queues.token_valid(queue, token)
