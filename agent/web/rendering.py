"""Rendering the pages: package templates (string.Template, every value HTML-escaped unless it
is a fragment rendered the same way), the page shell with its security headers, the language
of a page, and the small pieces several pages share (language switch, notices, messages).

Scripts and styles come only from /static, so the Content-Security-Policy can forbid anything
inline.
"""

from __future__ import annotations

import html
import json
import string
from collections.abc import Mapping, Sequence
from functools import cache
from importlib import resources
from urllib.parse import urlencode

from fastapi import Request, Response
from fastapi.responses import HTMLResponse

from agent.web.context import WebContext
from agent.web.i18n import LANG_COOKIE, LOCALES, strings
from agent.web.wording import request_locale

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; worker-src 'self'; object-src 'none'; "
        "base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
_LANG_COOKIE_MAX_AGE_S = 365 * 24 * 3600


class Markup(str):
    """Text that is already HTML (a rendered fragment): inserted as is."""

    __slots__ = ()


@cache
def _template(name: str) -> string.Template:
    text = resources.files("agent.web").joinpath("templates").joinpath(name).read_text("utf-8")
    return string.Template(text)


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


def notice(locale: str, kind: str, heading: str, text: str) -> Markup:
    return render("notice.html", locale, {"kind": kind, "heading": heading, "text": text})
