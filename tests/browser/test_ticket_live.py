"""The ticket page's live parts and the join form, in Debian's chromium on a phone viewport:
the number now served in the queue, the clock-time estimate, sound unlocked by the join tap
(or one plain button when it is not), the party size field, and the window screen's dark
theme with a code a phone can still read."""

from __future__ import annotations

import json
import re
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.async_api import Page

from agent import tools
from agent.config.loader import load_config
from agent.web.i18n import fill, strings
from tests.browser.support import PHONE, TV, decode_qr, screenshot
from tests.integration.queue_fixtures import staff_headers

pytestmark = pytest.mark.browser
EN, FR = strings("en"), strings("fr")
PARIS = ZoneInfo("Europe/Paris")


def rotating(agent) -> str:  # type: ignore[no-untyped-def]
    return str(agent.components.queues.tokens.rotating("advice", time.time()))


# Records the page's Screen Wake Lock requests and releases (what keeps the screen on).
RECORD_WAKE_LOCK = """
window.__wake = [];
if (navigator.wakeLock) {
  var request = navigator.wakeLock.request.bind(navigator.wakeLock);
  navigator.wakeLock.request = function (type) {
    return request(type).then(function (lock) {
      window.__wake.push("held " + type);
      lock.addEventListener("release", function () { window.__wake.push("released"); });
      return lock;
    });
  };
}
"""


async def join_by_tap(browser, agent, locale: str = "fr-FR") -> tuple[object, Page]:  # type: ignore[no-untyped-def]
    context = await browser.new_context(**PHONE, locale=locale)
    await context.add_init_script(RECORD_WAKE_LOCK)
    page = await context.new_page()
    await page.goto(f"{agent.base_url}/j/advice?w={rotating(agent)}")
    await page.locator("#join-button").click()
    await page.wait_for_url(f"{agent.base_url}/t/*")
    return context, page


async def visible_text(page: Page, selector: str) -> str:
    locator = page.locator(selector)
    assert await locator.is_visible(), f"{selector} is not shown"
    box = await locator.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, selector
    return (await locator.inner_text()).strip()


async def test_ticket_page_shows_now_serving_the_clock_time_and_sound(
    browser, browser_config, start_agent
) -> None:
    config = browser_config()
    agent = await start_agent(config)
    first_context, _ = await join_by_tap(browser, agent)
    context, page = await join_by_tap(browser, agent)
    assert await visible_text(page, "#serving") == FR["serving_none"]

    # The clock time: the middle of the range, in the store's zone, rounded up to 5 min.
    clock = await visible_text(page, "#eta-clock")
    found = re.fullmatch(r"vers (\d\d):(\d\d)", clock)
    assert found, clock
    now = datetime.now(PARIS)
    at = now.replace(hour=int(found[1]), minute=int(found[2]), second=0, microsecond=0)
    if at < now - timedelta(hours=12):
        at += timedelta(days=1)  # "vers 00:05" seen at 23:56 is tomorrow (a run near midnight)
    ticket_id = page.url.rsplit("/", 1)[1]
    eta = agent.components.queues.view(await agent.components.queues.ticket(ticket_id)).eta
    assert now <= at + timedelta(minutes=5), clock
    assert at <= now + timedelta(seconds=eta.high_s + 300), (clock, eta)

    # The join tap unlocked the sound: this page says it will ring, and shows no extra button.
    await page.locator("#sound-status", has_text=FR["sound_on"]).wait_for(timeout=5_000)
    assert await page.locator("#sound-on").is_hidden()
    # The screen is kept on while waiting, and let go when the customer says so.
    await page.wait_for_function("() => window.__wake.length > 0", timeout=5_000)
    assert await page.evaluate("window.__wake") == ["held screen"]
    await page.get_by_label(FR["wake_label"]).uncheck()
    await page.wait_for_function("() => window.__wake.includes('released')", timeout=5_000)
    await page.get_by_label(FR["wake_label"]).check()
    await page.wait_for_function("() => window.__wake.length === 3", timeout=5_000)
    # Notifications are offered, so the page no longer asks to be kept open.
    await page.locator("#push-offer").wait_for(state="visible", timeout=10_000)
    assert await page.locator("#keep-open").is_hidden()

    async with httpx.AsyncClient(base_url=agent.base_url, timeout=10) as client:
        tablet = await staff_headers(client, config)
        r = await client.post("/api/v1/queues/advice/call-next", headers=tablet)
        assert r.status_code == 200 and r.json()["number"] == 1
        await page.locator("#serving", has_text="1").wait_for(timeout=5_000)
        assert await visible_text(page, "#serving") == "1"
        assert await visible_text(page, "#ahead") == FR["ahead_0"]
        await screenshot(page, "ticket-serving", docs=True)
        r = await client.post("/api/v1/queues/advice/call-next", headers=tablet)
        assert r.json()["number"] == 2
    await page.locator("#turn").wait_for(state="visible", timeout=5_000)
    assert await visible_text(page, "#turn-number") == "2"
    await screenshot(page.locator("#turn"), "ticket-called", docs=True)
    await first_context.close()
    await context.close()


async def test_without_a_tap_the_page_offers_one_sound_button(
    browser, browser_config, start_agent
) -> None:
    """Opened without a gesture (a link, a notification, Safari's new page): the page says
    sound needs a tap and shows one button; after it, sound is on."""
    agent = await start_agent(browser_config())
    context = await browser.new_context(**PHONE, locale="en-GB")
    r = await context.request.post(
        f"{agent.base_url}/api/v1/queues/advice/tickets",
        data={"window_token": rotating(agent), "locale": "en"},
    )
    ticket_id = (await r.json())["ticket"]["id"]
    page = await context.new_page()
    await page.goto(f"{agent.base_url}/t/{ticket_id}")
    await page.locator("#sound-status", has_text=EN["sound_locked"]).wait_for(timeout=5_000)
    button = page.get_by_role("button", name=EN["sound_button"])
    assert await button.is_visible()
    await button.click()
    await page.locator("#sound-status", has_text=EN["sound_on"]).wait_for(timeout=5_000)
    assert await button.is_hidden()
    await context.close()


async def test_party_size_is_typed_as_a_person_means_it(
    browser, browser_config, start_agent
) -> None:
    agent = await start_agent(browser_config())
    context = await browser.new_context(**PHONE, locale="en-GB")
    page = await context.new_page()
    posts: list[dict[str, object]] = []
    page.on(
        "request",
        lambda request: (
            posts.append(json.loads(request.post_data or "{}"))
            if request.method == "POST" and request.url.endswith("/tickets")
            else None
        ),
    )
    await page.goto(f"{agent.base_url}/j/advice?w={rotating(agent)}")
    party = page.locator("#party")
    assert await party.input_value() == "1"

    # Tapping into the field holding "1" and typing 991: refused on the page, not sent as 20.
    await party.click()
    await page.keyboard.type("991")
    assert await party.input_value() == "991"
    await page.locator("#join-button").click()
    assert await visible_text(page, "#party-error") == EN["party_error"]
    assert await party.get_attribute("aria-invalid") == "true"
    assert posts == [] and "/j/advice" in page.url

    # Typing 3 into it gives 3 (not 13, not 9913).
    await page.locator("#name").click()
    await party.click()
    await page.keyboard.type("3")
    assert await party.input_value() == "3"
    assert await page.locator("#party-error").is_hidden()
    await page.locator("#join-button").click()
    await page.wait_for_url(f"{agent.base_url}/t/*")
    assert [body["party_size"] for body in posts] == [3]
    ticket = await agent.components.queues.ticket(page.url.rsplit("/", 1)[1])
    assert ticket is not None and ticket.party_size == 3
    await context.close()


async def test_party_size_zero_and_letters_are_refused(
    browser, browser_config, start_agent
) -> None:
    agent = await start_agent(browser_config())
    context = await browser.new_context(**PHONE, locale="fr-FR")
    page = await context.new_page()
    await page.goto(f"{agent.base_url}/j/advice?w={rotating(agent)}")
    for typed in ("0", "abc", "21"):
        await page.locator("#party").fill(typed)
        await page.locator("#join-button").click()
        assert await visible_text(page, "#party-error") == FR["party_error"], typed
        assert "/j/advice" in page.url
    # The + button from a refused 21 goes to the nearest allowed value, visibly.
    await page.get_by_role("button", name=FR["party_more"]).click()
    assert await page.locator("#party").input_value() == "20"
    assert await page.locator("#party-error").is_hidden()
    await context.close()


async def test_window_screen_dark_theme_keeps_a_readable_code(
    browser, browser_config, start_agent
) -> None:
    config = browser_config()
    agent = await start_agent(config)
    context = await browser.new_context(**TV)
    page = await context.new_page()
    await page.goto(f"{agent.base_url}/window/advice?theme=dark")
    await page.locator("#window-pair-code").fill(tools.pairing_code(config, "w", "display"))
    await page.locator("#window-pair-form button[type=submit]").click()
    await page.locator("#qr svg").wait_for(timeout=10_000)
    assert page.url.endswith("/window/advice?theme=dark")  # the choice survives pairing
    background = await page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(13, 17, 23)"
    texts = decode_qr(await screenshot(page, "window-dark", docs=True))
    assert len(texts) == 1 and texts[0].startswith(f"{agent.base_url}/j/advice?w=r")
    assert agent.components.queues.token_valid("advice", texts[0].split("?w=", 1)[1])
    # ... and the light one is still the default.
    await page.goto(f"{agent.base_url}/window/advice")
    await page.locator("#qr svg").wait_for(timeout=10_000)
    assert await page.evaluate("getComputedStyle(document.body).backgroundColor") == (
        "rgb(255, 255, 255)"
    )
    await context.close()


async def test_a_called_ticket_with_a_counter_says_where_to_go(
    browser, browser_config, start_agent
) -> None:
    """Contract 8.7's `Ticket.counter` as the phone shows it: a tablet calls the ticket to
    counter 2, and the full-screen notice, the line under it and the banner say so."""
    base = browser_config()
    text = base.source.read_text(encoding="utf-8")
    base.source.write_text(
        text.replace("max_waiting = 200\n", 'max_waiting = 200\ncounters = ["1", "2"]\n', 1),
        encoding="utf-8",
    )
    config = load_config(base.source)
    agent = await start_agent(config)
    context, page = await join_by_tap(browser, agent)
    async with httpx.AsyncClient(base_url=agent.base_url, timeout=10) as client:
        tablet = await staff_headers(client, config)
        called = await client.post(
            "/api/v1/queues/advice/call-next", headers=tablet, json={"counter": "2"}
        )
        assert called.status_code == 200 and called.json()["counter"] == "2"
    await page.locator("#turn").wait_for(state="visible", timeout=5_000)
    go = fill(FR["counter_line"], counter="2")
    assert await visible_text(page, "#turn-counter") == go
    await screenshot(page.locator("#turn"), "ticket-called-counter", docs=True)
    await page.locator("#turn-ok").click()
    assert await visible_text(page, "#counter-line") == go
    assert await visible_text(page, "#called-banner") == go
    await context.close()
