"""The window screen (/window/{queue}): a large QR code of the join URL with the current window
token, the queue's length and wait, in French and English. The page fetches a fresh QR code
from /window/{queue}/qr.svg well before the rotating token changes.

Only a paired display (or a staff tablet) is shown the code (contract 8.1): anyone else gets a
pairing form, and qr.svg answers 401, so the rotating code cannot be read from anywhere the
agent's public URL reaches; it has to be read off the glass."""

from __future__ import annotations

import io
import json

import segno
from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from agent.web.auth import display_device
from agent.web.context import WebContext
from agent.web.errors import ApiError
from agent.web.i18n import strings, wait_text
from agent.web.rendering import (
    SECURITY_HEADERS,
    Markup,
    html_page,
    not_found_page,
    render,
)

# Keys the window script needs in both languages.
_WINDOW_KEYS = (
    "wait_none",
    "wait_upto",
    "wait_about",
    "wait_range",
    "closed_short",
    "full_short",
    "store_full_short",
)


def window_token(ctx: WebContext, queue: str) -> str:
    return ctx.queues.window_token(queue)


def join_url(ctx: WebContext, queue: str) -> str:
    return f"{ctx.config.http.public_url}/j/{queue}?w={window_token(ctx, queue)}"


_QR_STYLE: dict[str, object] = {
    "scale": 1,
    "border": 4,  # the standard quiet zone
    "dark": "#000000",
    "light": "#ffffff",
    "omitsize": True,  # sized by CSS, not by width/height attributes
    "svgclass": "qr",
    "lineclass": None,
}


def qr_svg(url: str, title: str) -> str:
    """The QR code as an element for inlining in the window page's HTML (the HTML parser puts
    an `<svg>` element in the SVG namespace by itself)."""
    return str(segno.make_qr(url, error="m").svg_inline(title=title, **_QR_STYLE))


def qr_svg_document(url: str, title: str) -> str:
    """The QR code as a standalone SVG document (contract 8.1): it declares the SVG namespace,
    so a browser draws it when opened on its own and when the window page parses it with
    DOMParser; without the namespace both get a plain XML tree that draws nothing."""
    buffer = io.BytesIO()
    segno.make_qr(url, error="m").save(
        buffer, kind="svg", xmldecl=True, svgns=True, title=title, **_QR_STYLE
    )
    return buffer.getvalue().decode("utf-8")


def both(key: str) -> tuple[str, str]:
    return strings("en")[key], strings("fr")[key]


def _wait_both(low: int, high: int) -> str:
    english, french = wait_text("en", low, high), wait_text("fr", low, high)
    return english if english == french else f"{english} / {french}"


def add_window_routes(router: APIRouter, ctx: WebContext) -> None:
    store = ctx.config.store.name

    @router.get("/window/{queue}")
    async def window_page(queue: str, request: Request) -> HTMLResponse:
        if queue not in ctx.queues.queue_ids():
            return not_found_page(ctx, request)
        if await display_device(request, ctx) is None:
            return pairing_page(ctx, ctx.queues.queue_config(queue).label, f"window {queue}")
        summary = ctx.queues.summary(queue)
        scan_en, scan_fr = both("scan_to_join")
        waiting_en, waiting_fr = both("waiting_short")
        wait_label_en, wait_label_fr = both("wait_label")
        label = ctx.queues.queue_config(queue).label
        content = render(
            "window.html",
            "fr",
            {
                "qr": Markup(qr_svg(join_url(ctx, queue), f"{scan_en} / {scan_fr}")),
                "store": store,
                "label": label,
                "scan_en": scan_en,
                "scan_fr": scan_fr,
                "waiting": str(summary.waiting),
                "waiting_en": waiting_en,
                "waiting_fr": waiting_fr,
                "wait_label_en": wait_label_en,
                "wait_label_fr": wait_label_fr,
                "wait": _wait_both(summary.eta.low_s, summary.eta.high_s),
            },
        )
        words = {
            f"{locale}_{key}": strings(locale)[key]
            for locale in ("en", "fr")
            for key in _WINDOW_KEYS
        }
        state = (
            "closed"
            if not summary.open
            else "full"
            if summary.full
            else "store_full"
            if ctx.store_full()
            else "open"
        )
        return html_page(
            "fr",
            f"{label} · {store}",
            "window",
            content,
            data={
                "queue": queue,
                # A dark screen in a bright window reads better at night; the QR code keeps
                # its dark-on-white modules and quiet zone either way (scanners need them).
                "theme": "dark" if request.query_params.get("theme") == "dark" else "light",
                "mode": ctx.queues.queue_config(queue).window_token,
                "state": state,
                "strings": json.dumps(words),
            },
            scripts=("common.js", "window.js"),
        )

    @router.get("/window/{queue}/qr.svg")
    async def window_qr(queue: str, request: Request) -> Response:
        """Extension: the current QR code alone, for the window page to refresh."""
        if queue not in ctx.queues.queue_ids():
            return not_found_page(ctx, request)
        if await display_device(request, ctx) is None:
            raise ApiError(
                401, "unauthorized", "Pair this screen first (retail-edge pair --role display)."
            )
        scan_en, scan_fr = both("scan_to_join")
        svg = qr_svg_document(join_url(ctx, queue), f"{scan_en} / {scan_fr}")
        headers = dict(SECURITY_HEADERS) | {"Cache-Control": "no-store"}
        return Response(svg, media_type="image/svg+xml", headers=headers)


def pairing_page(ctx: WebContext, label: str, device_name: str) -> HTMLResponse:
    """What an unpaired screen (window or board) shows: its name and a code field, in both
    languages (nobody chooses a language on a screen in a shop window). No code, no token,
    no number."""
    values = {"store": ctx.config.store.name, "label": label}
    for key in ("title", "intro", "code"):
        values[f"{key}_en"], values[f"{key}_fr"] = both(f"display_pair_{key}")
    values["button_en"], values["button_fr"] = both("pair_button")
    content = render("window_pair.html", "fr", values)
    words = {
        f"{locale}_{key}": strings(locale)[key]
        for locale in ("en", "fr")
        for key in ("display_pair_error", "display_pair_code", "err_network")
    }
    return html_page(
        "fr",
        f"{label} · {values['store']}",
        "window-pair",
        content,
        data={"device": device_name, "strings": json.dumps(words)},
        scripts=("common.js", "window.js"),
    )
