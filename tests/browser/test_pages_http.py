"""The pages at the HTTP level (no browser): polite states, 404s, headers, escaping, assets."""

from __future__ import annotations

import html
import time
from xml.etree import ElementTree

import httpx
import pytest_asyncio

from agent import tools
from agent.web.i18n import choose_locale, strings, wait_text
from tests.browser.support import ALWAYS_CLOSED
from tests.integration.queue_fixtures import display_headers

EN, FR = strings("en"), strings("fr")
HTML_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cache-control": "no-store",
}


def rotating(agent) -> str:
    return str(agent.components.queues.tokens.rotating("advice", time.time()))


def assert_html_headers(response: httpx.Response) -> None:
    assert response.headers["content-type"].startswith("text/html")
    for name, value in HTML_HEADERS.items():
        assert response.headers[name] == value, name
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy
    assert "'unsafe-inline'" not in policy and "frame-ancestors 'none'" in policy


# Session loop: the agent is served in the loop the tests run in (tests/browser/conftest.py).
@pytest_asyncio.fixture(loop_scope="session")
async def agent(browser_config, start_agent):  # type: ignore[no-untyped-def]
    return await start_agent(browser_config(max_waiting=1))


@pytest_asyncio.fixture(loop_scope="session")
async def client(agent):  # type: ignore[no-untyped-def]
    async with httpx.AsyncClient(base_url=agent.base_url, timeout=10) as c:
        yield c


async def test_join_page_form_then_full(agent, client) -> None:
    response = await client.get(f"/j/advice?w={rotating(agent)}", headers={"Accept-Language": "fr"})
    assert response.status_code == 200
    assert_html_headers(response)
    assert '<html lang="fr">' in response.text and 'id="join-form"' in response.text
    assert '<script src="/static/join.js" defer></script>' in response.text
    joined = await client.post(
        "/api/v1/queues/advice/tickets", json={"window_token": rotating(agent)}
    )
    assert joined.status_code == 201
    response = await client.get(f"/j/advice?w={rotating(agent)}", headers={"Accept-Language": "en"})
    assert 'id="notice-full"' in response.text and 'id="join-form"' not in response.text
    assert EN["full_title"] in response.text


async def test_join_page_when_the_store_is_closed(browser_config, start_agent) -> None:
    agent = await start_agent(browser_config(extra=ALWAYS_CLOSED))
    async with httpx.AsyncClient(base_url=agent.base_url) as client:
        response = await client.get(f"/j/advice?w={rotating(agent)}")
        assert response.status_code == 200
        assert 'id="notice-closed"' in response.text and 'id="join-form"' not in response.text
        screen = await display_headers(client, agent.components.config)
        window = await client.get("/window/advice", headers=screen)
        assert 'data-state="closed"' in window.text


async def test_unknown_queue_and_ticket_pages(agent, client) -> None:
    for path in ("/j/nope?w=x", "/window/nope", "/window/nope/qr.svg"):
        response = await client.get(path, headers={"Accept-Language": "en"})
        assert response.status_code == 404, path
        assert_html_headers(response)
        assert EN["notfound_title"] in response.text
    response = await client.get("/t/no-such-ticket", headers={"Accept-Language": "fr"})
    assert response.status_code == 401
    assert html.escape(FR["not_mine_title"]) in response.text
    response = await client.get("/t/x", headers={"Authorization": "Ticket wrong"})
    assert response.status_code == 403


async def test_ticket_page_is_rendered_for_its_owner(agent, client) -> None:
    body = {"window_token": rotating(agent), "name": "<b>Zoé</b>", "locale": "fr"}
    created = (await client.post("/api/v1/queues/advice/tickets", json=body)).json()
    response = await client.get(f"/t/{created['ticket']['id']}")
    assert response.status_code == 200
    assert_html_headers(response)
    assert '<html lang="fr">' in response.text  # the ticket's own language
    assert 'id="number" class="big-number">1<' in response.text
    assert "<b>Zoé</b>" not in response.text  # data attributes are escaped too
    response = await client.get(f"/t/{created['ticket']['id']}?lang=en")
    assert '<html lang="en">' in response.text
    assert response.cookies.get("lang") == "en"


async def test_window_page_and_its_qr_code(agent, client) -> None:
    screen = await display_headers(client, agent.components.config)
    response = await client.get("/window/advice", headers=screen)
    assert response.status_code == 200
    assert_html_headers(response)
    assert '<svg viewBox="0 0' in response.text and 'class="qr"' in response.text
    assert "Scan to join the queue" in response.text
    assert "Scannez pour rejoindre la file" in response.text
    assert 'data-mode="rotating"' in response.text
    qr = await client.get("/window/advice/qr.svg", headers=screen)
    assert qr.status_code == 200
    assert qr.headers["content-type"].startswith("image/svg+xml")
    assert qr.headers["cache-control"] == "no-store"
    # A standalone SVG document: the root element is in the SVG namespace (contract 8.1).
    assert ElementTree.fromstring(qr.text).tag == "{http://www.w3.org/2000/svg}svg"  # noqa: S314 - our own answer
    static = await client.get("/window/pickup", headers=screen)
    assert 'data-mode="static"' in static.text


async def test_static_code_opens_the_form(agent, client) -> None:
    token = agent.components.queues.tokens.static("pickup", 1)
    response = await client.get(f"/j/pickup?w={token}")
    assert 'id="join-form"' in response.text


async def test_labels_are_escaped(browser_config, start_agent) -> None:
    extra = '\n[queues.tricky]\nlabel = "A <script>&"\nwindow_token = "rotating"\n'
    agent = await start_agent(browser_config(extra=extra))
    async with httpx.AsyncClient(base_url=agent.base_url) as client:
        screen = await display_headers(client, agent.components.config)
        for path in ("/window/tricky", "/j/tricky?w=x"):
            text = (await client.get(path, headers=screen)).text
            assert "A &lt;script&gt;&amp;" in text and "<script>&" not in text
        for path in ("/window/tricky",):  # unpaired: the pairing form names the queue too
            text = (await client.get(path)).text
            assert "A &lt;script&gt;&amp;" in text and "<script>&" not in text


async def test_staff_page_answers_200_with_the_pairing_cookie(agent, client) -> None:
    response = await client.get("/staff")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert 'id="pair-form"' in response.text
    code = tools.pairing_code(agent.components.config, "tablet-9")
    paired = await client.post("/api/v1/pair", json={"code": code, "device_name": "tablet-9"})
    assert paired.status_code == 200
    response = await client.get("/staff")  # the cookie the pairing set
    assert response.status_code == 200
    assert_html_headers(response)
    assert 'data-queue="advice"' in response.text and 'data-queue="pickup"' in response.text


async def test_static_assets(agent, client) -> None:
    css = await client.get("/static/app.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert css.headers["x-content-type-options"] == "nosniff"
    again = await client.get("/static/app.css", headers={"If-None-Match": css.headers["etag"]})
    assert again.status_code == 304
    for name in (
        "common.js",
        "join.js",
        "ticket.js",
        "window.js",
        "staff.js",
        "staff_alerts.js",
        "staff_alert_words.js",
        "icon.svg",
    ):
        assert (await client.get(f"/static/{name}")).status_code == 200, name
    for bad in ("nope.js", "..%2Fpages.py", "APP.CSS", "pages.py"):
        assert (await client.get(f"/static/{bad}")).status_code == 404, bad


def test_locale_choice() -> None:
    assert choose_locale(None, None, "de-DE,fr;q=0.8,en;q=0.5") == "fr"
    assert choose_locale(None, None, "en-GB,fr;q=0.9") == "en"
    assert choose_locale(None, None, "fr;q=0,en;q=0.1") == "en"
    assert choose_locale(None, None, "de") == "en"
    assert choose_locale(None, None, None) == "en"
    assert choose_locale(None, "fr", "en") == "fr"
    assert choose_locale("en", "fr", "fr") == "en"
    assert choose_locale("xx", None, None, "fr") == "fr"


def test_wait_ranges_read_naturally() -> None:
    assert wait_text("en", 0, 0) == EN["wait_none"]
    assert wait_text("en", 0, 290) == "up to 5\u00a0min"
    assert wait_text("en", 720, 1200) == "12–20\u00a0min"
    assert wait_text("fr", 600, 600) == "environ 10\u00a0min"
