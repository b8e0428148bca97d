"""Page behaviour in a real browser: language, SMS consent, expired codes, ticket actions,
staff pairing."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import httpx
import pytest

from agent import tools
from agent.core.clock import ManualClock, rfc3339
from agent.web.i18n import strings
from tests.browser.support import PHONE, TABLET, TV, decode_qr, pair_window_screen, screenshot

pytestmark = pytest.mark.browser
EN, FR = strings("en"), strings("fr")


def rotating(agent, seconds_ago: float = 0.0) -> str:
    return str(agent.components.queues.tokens.rotating("advice", time.time() - seconds_ago))


async def test_language_follows_the_browser_and_the_switch_is_remembered(
    browser, browser_config, start_agent
) -> None:
    agent = await start_agent(browser_config())
    context = await browser.new_context(**PHONE, locale="en-US")
    page = await context.new_page()
    url = f"{agent.base_url}/j/advice?w={rotating(agent)}"
    await page.goto(url)
    assert await page.get_attribute("html", "lang") == "en"
    assert await page.inner_text("h1") == EN["join_title"]

    await page.get_by_role("link", name="FR", exact=True).click()
    await page.wait_for_load_state()
    assert await page.get_attribute("html", "lang") == "fr"
    assert await page.inner_text("h1") == FR["join_title"]
    assert (
        await page.get_by_role("link", name="FR", exact=True).get_attribute("aria-current")
        == "true"
    )
    # The token survived the switch, so the form is still there.
    assert await page.locator("#join-form").is_visible()
    cookies = {c["name"]: c["value"] for c in await context.cookies()}
    assert cookies.get("lang") == "fr"

    await page.goto(url)  # no ?lang: the cookie decides
    assert await page.get_attribute("html", "lang") == "fr"
    await page.get_by_role("link", name="EN", exact=True).click()
    await page.wait_for_load_state()
    assert await page.inner_text("h1") == EN["join_title"]
    await context.close()


async def test_phone_is_sent_only_with_sms_consent(browser, browser_config, start_agent) -> None:
    agent = await start_agent(browser_config())
    bodies: list[dict[str, object]] = []

    async def join(consent_at_submit: bool) -> str:
        context = await browser.new_context(**PHONE, locale="fr-FR")
        page = await context.new_page()

        def capture(request) -> None:  # type: ignore[no-untyped-def]
            if request.method == "POST" and request.url.endswith("/tickets"):
                bodies.append(json.loads(request.post_data or "{}"))

        page.on("request", capture)
        await page.goto(f"{agent.base_url}/j/advice?w={rotating(agent)}")
        phone = page.get_by_label(FR["phone_label"])
        assert await phone.is_disabled()
        await page.get_by_label(FR["sms_consent"]).check()
        assert await phone.is_enabled()
        await phone.fill("06 12 34 56 78")
        if not consent_at_submit:
            await page.get_by_label(FR["sms_consent"]).uncheck()
            assert await phone.is_disabled()
        await page.get_by_role("button", name=FR["join_button"]).click()
        await page.wait_for_url(f"{agent.base_url}/t/*")
        ticket_id = page.url.rsplit("/", 1)[1]
        await context.close()
        return ticket_id

    without = await join(consent_at_submit=False)
    with_consent = await join(consent_at_submit=True)
    assert "phone" not in bodies[0]
    assert bodies[1]["phone"] == "+33612345678"
    assert bodies[1]["locale"] == "fr"
    queues = agent.components.queues
    assert (await queues.ticket(without)).phone is None
    assert (await queues.ticket(with_consent)).phone == "+33612345678"


async def test_an_expired_code_asks_to_scan_the_window_again(
    browser, browser_config, start_agent
) -> None:
    agent = await start_agent(browser_config())
    context = await browser.new_context(**PHONE, locale="en-GB")
    page = await context.new_page()
    old = rotating(agent, seconds_ago=600)

    # Arriving with an old code: no form, a plain request to scan again.
    await page.goto(f"{agent.base_url}/j/advice?w={old}")
    assert await page.locator("#notice-expired").is_visible()
    assert EN["scan_body"] in await page.inner_text("#notice-expired")
    assert await page.locator("#join-form").count() == 0

    # The code expiring while the form is open: the join call's error says the same.
    await page.goto(f"{agent.base_url}/j/advice?w={rotating(agent)}")
    await page.locator("#window-token").evaluate("(input, old) => { input.value = old; }", old)
    await page.get_by_role("button", name=EN["join_button"]).click()
    error = page.locator("#join-error")
    await error.get_by_text(EN["err_expired"]).wait_for(timeout=5_000)
    assert page.url.startswith(f"{agent.base_url}/j/advice")
    await context.close()


async def test_ticket_page_snooze_once_then_leave(browser, browser_config, start_agent) -> None:
    agent = await start_agent(browser_config())
    context = await browser.new_context(**PHONE, locale="en-GB")
    page = await context.new_page()
    await page.goto(f"{agent.base_url}/j/advice?w={rotating(agent)}")
    await page.get_by_role("button", name=EN["join_button"]).click()
    await page.wait_for_url(f"{agent.base_url}/t/*")

    # Someone joins behind: the position text follows live.
    other = await browser.new_context(**PHONE, locale="en-GB")
    second = await other.new_page()
    await second.goto(f"{agent.base_url}/j/advice?w={rotating(agent)}")
    await second.get_by_role("button", name=EN["join_button"]).click()
    await second.wait_for_url(f"{agent.base_url}/t/*")
    assert await second.inner_text("#ahead") == EN["ahead_1"]

    await page.get_by_role("button", name=EN["snooze_button"]).click()
    await page.get_by_text(EN["snooze_done"]).wait_for(timeout=5_000)
    assert await page.get_by_role("button", name=EN["snooze_button"]).is_hidden()
    await page.locator("#ahead", has_text=EN["ahead_1"]).wait_for(timeout=5_000)
    await second.locator("#ahead", has_text=EN["ahead_0"]).wait_for(timeout=5_000)

    # A phone waking up re-reads its ticket.
    async with page.expect_request(lambda r: r.method == "GET" and "/api/v1/tickets/" in r.url):
        await page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")

    await page.get_by_role("button", name=EN["leave_button"]).click()
    await page.get_by_role("button", name=EN["leave_yes"]).click()
    await page.get_by_text(EN["final_left"]).wait_for(timeout=5_000)
    assert await page.locator("#actions").is_hidden()

    # The same ticket on another phone (no cookie) is politely refused.
    stranger = await browser.new_context(**PHONE, locale="en-GB")
    foreign = await stranger.new_page()
    response = await foreign.goto(second.url)
    assert response is not None and response.status == 401
    assert await foreign.inner_text("h1") == EN["not_mine_title"]
    for ctx in (context, other, stranger):
        await ctx.close()


async def test_staff_page_needs_pairing(browser, browser_config, start_agent) -> None:
    agent = await start_agent(browser_config())
    context = await browser.new_context(**TABLET, locale="fr-FR")
    page = await context.new_page()
    response = await page.goto(f"{agent.base_url}/staff")
    assert response is not None and response.status == 401
    headers = await response.all_headers()
    assert "default-src 'self'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
    code = page.get_by_label(FR["pair_code"])
    device = page.get_by_label(FR["pair_device"])
    assert await code.is_visible() and await device.is_visible()
    await screenshot(page, "staff-pairing", docs=True)
    await code.fill("000000")
    await page.get_by_role("button", name=FR["pair_button"]).click()
    await page.locator("#pair-error").filter(has_text="code").wait_for(timeout=5_000)
    assert await page.evaluate("localStorage.getItem('retail-edge.staff-token')") is None

    # A token remembered by the page but revoked or unknown to the agent: back to pairing.
    await context.add_cookies([{"name": "staff_token", "value": "bogus", "url": agent.base_url}])
    response = await page.goto(f"{agent.base_url}/staff")
    assert response is not None and response.status == 401
    await context.close()


async def test_nothing_overflows_a_360_px_phone(browser, browser_config, start_agent) -> None:
    agent = await start_agent(browser_config())
    for locale in ("fr-FR", "en-GB"):
        context = await browser.new_context(
            viewport={"width": 360, "height": 640}, is_mobile=True, locale=locale
        )
        page = await context.new_page()
        await page.goto(f"{agent.base_url}/j/advice?w={rotating(agent)}")
        await page.get_by_role("checkbox").check()
        await page.locator("#phone").fill("+33 6 12 34 56 78")
        assert await page.evaluate("document.documentElement.scrollWidth") <= 360
        await screenshot(page, f"join-360-{locale}")
        await page.locator("#join-button").click()
        await page.wait_for_url(f"{agent.base_url}/t/*")
        assert await page.evaluate("document.documentElement.scrollWidth") <= 360
        await screenshot(page, f"ticket-360-{locale}")
        await context.close()


async def test_window_screen_shows_a_decodable_code_across_rotations(
    browser, browser_config, start_agent
) -> None:
    """What a passer-by's phone sees: the code on the screen, decoded from screenshots at load
    and after each of two token rotations, is the join URL with a token the agent accepts now.
    (Round 1's test only checked that a new <svg> element existed while the screen was blank.)"""
    clock = ManualClock(datetime(2026, 1, 5, 10, 0, 5, tzinfo=UTC))
    config = browser_config()
    agent = await start_agent(config, clock=clock)
    queues = agent.components.queues
    context = await browser.new_context(**TV)
    page = await context.new_page()
    await page.clock.install()
    await pair_window_screen(page, agent.base_url, tools.pairing_code(config, "w", "display"))
    assert await page.inner_text("#waiting") == "0"

    def expected_url() -> str:
        token = queues.tokens.rotating("advice", clock.now().timestamp())
        return f"{agent.base_url}/j/advice?w={token}"

    async def visible_code(name: str) -> str:
        shot = await screenshot(page.locator("#qr"), name)
        texts = decode_qr(shot)
        assert len(texts) == 1, f"{name}: decoded {texts!r} from the window screen"
        return texts[0]

    seen = [await visible_code("window-qr-0")]
    assert seen[0] == expected_url()
    async with httpx.AsyncClient(base_url=agent.base_url) as client:
        body = {"window_token": seen[0].split("?w=", 1)[1]}
        assert (await client.post("/api/v1/queues/advice/tickets", json=body)).status_code == 201
    for rotation in (1, 2):
        before = await page.inner_html("#qr")
        clock.advance(60)  # the agent's token rotates...
        async with page.expect_response("**/window/advice/qr.svg") as answer:
            await page.clock.fast_forward(21_000)  # ...and the screen fetches the new code
        assert (await answer.value).ok
        await page.wait_for_function(
            "before => document.getElementById('qr').innerHTML !== before", arg=before
        )
        seen.append(await visible_code(f"window-qr-{rotation}"))
        assert seen[-1] == expected_url(), f"rotation {rotation}: an old or foreign code"
        assert queues.token_valid("advice", seen[-1].split("?w=", 1)[1])
    assert len(set(seen)) == 3, "each rotation shows a new code"
    await page.locator("#waiting", has_text="1").wait_for(timeout=5_000)
    await context.close()


async def test_window_qr_svg_is_a_standalone_document(browser, browser_config, start_agent) -> None:
    """Opened on its own, qr.svg draws a QR code (not an XML listing)."""
    config = browser_config()
    agent = await start_agent(config)
    context = await browser.new_context(viewport={"width": 600, "height": 600})
    page = await context.new_page()
    await pair_window_screen(page, agent.base_url, tools.pairing_code(config, "w", "display"))
    response = await page.goto(f"{agent.base_url}/window/advice/qr.svg")
    assert response is not None and response.ok
    assert response.headers["content-type"].startswith("image/svg+xml")
    assert 'xmlns="http://www.w3.org/2000/svg"' in await response.text()
    texts = decode_qr(await screenshot(page.locator("svg"), "window-qr-standalone"))
    assert len(texts) == 1 and texts[0].startswith(f"{agent.base_url}/j/advice?w=r")
    await context.close()


async def test_an_unpaired_window_screen_shows_a_pairing_form_and_no_code(
    browser, browser_config, start_agent
) -> None:
    """Contract 8.1, as a passer-by (or anyone on the network) sees it: the window page of a
    browser that was never paired shows no QR code at all, only the code field; qr.svg is
    refused. After typing a display code the same screen shows a code a phone can use."""
    config = browser_config()
    agent = await start_agent(config)
    context = await browser.new_context(**TV)
    page = await context.new_page()
    response = await page.goto(f"{agent.base_url}/window/advice")
    assert response is not None and response.status == 200
    shot = await screenshot(page, "window-unpaired", docs=True)
    assert decode_qr(shot) == [], "an unpaired screen shows a QR code"
    field = await page.locator("#window-pair-code").bounding_box()
    button = page.get_by_role("button", name=f"{EN['pair_button']} / {FR['pair_button']}")
    box = await button.bounding_box()
    assert field is not None and box is not None
    assert box["y"] >= 0 and box["y"] + box["height"] <= TV["viewport"]["height"]
    assert await page.get_by_text(EN["display_pair_title"]).is_visible()
    qr = await page.goto(f"{agent.base_url}/window/advice/qr.svg")
    assert qr is not None and qr.status == 401
    assert decode_qr(await screenshot(page, "window-qr-unpaired")) == []

    # A wrong code: a message on the screen, still no code.
    await page.goto(f"{agent.base_url}/window/advice")
    await page.locator("#window-pair-code").fill("000000")
    await page.locator("#window-pair-form button[type=submit]").click()
    await page.locator("#window-pair-error", has_text="expired").wait_for(timeout=5_000)
    assert decode_qr(await screenshot(page, "window-wrong-code")) == []

    await pair_window_screen(page, agent.base_url, tools.pairing_code(config, "w", "display"))
    texts = decode_qr(await screenshot(page.locator("#qr"), "window-paired"))
    assert len(texts) == 1 and texts[0].startswith(f"{agent.base_url}/j/advice?w=r")
    assert agent.components.queues.token_valid("advice", texts[0].split("?w=", 1)[1])
    await context.close()


async def test_a_pairing_link_pairs_the_screen_by_itself(
    browser, browser_config, start_agent
) -> None:
    """The demo prints /window/advice#pair=CODE: opened on a screen, it pairs it once and
    shows the code, and the code leaves the address bar."""
    config = browser_config()
    agent = await start_agent(config)
    context = await browser.new_context(**TV)
    page = await context.new_page()
    code = tools.pairing_code(config, "w", "display")
    await page.goto(f"{agent.base_url}/window/advice#pair={code}")
    await page.locator("#qr svg").wait_for(timeout=10_000)
    assert page.url == f"{agent.base_url}/window/advice"
    texts = decode_qr(await screenshot(page.locator("#qr"), "window-paired-by-link"))
    assert len(texts) == 1 and texts[0].startswith(f"{agent.base_url}/j/advice?w=r")
    await context.close()


async def test_staff_sees_arrival_alerts_and_occupancy(
    browser, browser_config, start_agent
) -> None:
    config = browser_config()
    agent = await start_agent(config)
    context = await browser.new_context(**TABLET, locale="en-GB")
    page = await context.new_page()
    await page.goto(f"{agent.base_url}/staff")
    await page.get_by_label(EN["pair_code"]).fill(tools.pairing_code(config, "tablet-2"))
    await page.get_by_role("button", name=EN["pair_button"]).click()
    await page.locator("#live.is-live").wait_for(timeout=10_000)

    hub = agent.components.hub
    hub.publish(
        "staff",
        "arrival",
        {
            "alert_id": "al-1",
            "customer_id": "c-1",
            "display_name": "Nadia <i>",
            "via": "nfc",
            # Raised now: an older one would go straight to "earlier arrivals" ([alerts] display_s).
            "at": rfc3339(agent.components.clock.now()),
            "profile": {"tier": "gold", "notes": "prefers French"},
            "suggestions": [
                {"kind": "tier", "rule": "tier", "wording": "sugg_tier", "tier": "gold"}
            ],
        },
    )
    hub.publish("staff", "occupancy", {"occupancy": 12, "capacity": 40, "level": "ok"})
    card = page.locator('.alert-card[data-alert="al-1"]')
    await card.wait_for(timeout=5_000)
    assert "Nadia <i>" in await card.inner_text()  # shown as text, not markup
    # In words (issue 14): "Gold member", "by loyalty card"; never the raw "via nfc".
    text = await card.inner_text()
    assert "Gold member" in text and EN["came_in_nfc"] in text and "via nfc" not in text
    await page.locator("#occupancy", has_text="12/40").wait_for(timeout=5_000)
    await card.get_by_role("button", name=EN["take_it"]).click()
    await card.get_by_text(EN["alert_gone"]).wait_for(timeout=5_000)  # al-1 is not a real alert
    await card.wait_for(state="detached", timeout=10_000)

    # Taken on another tablet: this one says by whom, then lets the card go.
    def arrival(alert_id: str) -> dict[str, object]:
        return {"alert_id": alert_id, "customer_id": "c-2", "display_name": "Léo", "via": "ble"}

    hub.publish("staff", "arrival", arrival("al-2"))
    taken = page.locator('.alert-card[data-alert="al-2"]')
    await taken.wait_for(timeout=5_000)
    hub.publish("staff", "alert_acked", {"alert_id": "al-2", "by": "tablet-9"})
    await taken.get_by_text("Taken by tablet-9").wait_for(timeout=5_000)
    await taken.wait_for(state="detached", timeout=10_000)

    # Consent revoked or erased: the card disappears at once.
    hub.publish("staff", "arrival", arrival("al-3"))
    withdrawn = page.locator('.alert-card[data-alert="al-3"]')
    await withdrawn.wait_for(timeout=5_000)
    hub.publish("staff", "alert_withdrawn", {"alert_id": "al-3"})
    await withdrawn.wait_for(state="detached", timeout=1_000)
    await context.close()
