"""The whole virtual-queue journey in a real browser: window QR code -> phone joins -> tablet
pairs and calls -> the phone shows "your turn" without reloading."""

from __future__ import annotations

import io
import time

import httpx
import pytest
import zxingcpp
from PIL import Image

from agent import tools
from agent.web.i18n import strings
from tests.browser.support import PHONE, TABLET, TV, pair_window_screen, screenshot

pytestmark = pytest.mark.browser
FR = strings("fr")


def decode_qr(png: bytes) -> str:
    results = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)).convert("L"))
    assert results, "no QR code found in the window screenshot"
    return str(results[0].text)


async def test_window_qr_to_phone_ticket_to_staff_call(
    browser, browser_config, start_agent
) -> None:
    config = browser_config()
    agent = await start_agent(config)
    base = agent.base_url
    started = time.monotonic()

    # 1. The window screen shows a QR code a phone camera can read.
    window = await browser.new_context(**TV)
    window_page = await window.new_page()
    await pair_window_screen(window_page, base, tools.pairing_code(config, "w", "display"))
    qr_png = await screenshot(window_page.locator("#qr svg"), "window-qr")
    url = decode_qr(qr_png)
    assert url.startswith(f"{config.http.public_url}/j/advice?w=r"), url
    await screenshot(window_page, "window", docs=True)

    # 2. A French phone opens the decoded URL and joins.
    phone = await browser.new_context(**PHONE, locale="fr-FR")
    customer = await phone.new_page()
    await customer.goto(url)
    assert await customer.get_attribute("html", "lang") == "fr"
    await customer.get_by_label("Prénom (facultatif)").fill("Camille")
    await screenshot(customer, "join", docs=True)
    await customer.get_by_role("button", name="Prendre un ticket").click()
    await customer.wait_for_url(f"{base}/t/*")
    ticket_id = customer.url.rsplit("/", 1)[1]
    await customer.wait_for_selector("#number")
    assert await customer.inner_text("#number") == "1"
    assert await customer.inner_text("#ahead") == FR["ahead_0"]
    await customer.evaluate("window.__sameDocument = true")
    await screenshot(customer, "ticket-waiting", docs=True)

    # Two more customers (plain API) so the tablet has a queue to show.
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        for name, size in (("Léa", 2), ("Marc", 1)):
            token = agent.components.queues.tokens.rotating("advice", time.time())
            body = {"window_token": token, "name": name, "party_size": size, "locale": "fr"}
            response = await client.post("/api/v1/queues/advice/tickets", json=body)
            assert response.status_code == 201, response.text

    # 3. A tablet pairs through the form, sees the ticket, calls it.
    tablet = await browser.new_context(**TABLET, locale="en-GB")
    staff = await tablet.new_page()
    response = await staff.goto(f"{base}/staff")
    assert response is not None and response.status == 401
    code = tools.pairing_code(config, "tablet-1")
    await staff.get_by_label("Pairing code (6 digits)").fill(code)
    await staff.get_by_label("Tablet name").fill("tablet-1")
    await staff.get_by_role("button", name="Pair").click()
    column = staff.locator('.queue-col[data-queue="advice"]')
    row = column.locator(f'.waiting-list li[data-id="{ticket_id}"]')
    await row.wait_for(timeout=10_000)
    assert "Camille" in await row.inner_text()
    # Today hour by hour: three joins, no door counts on this agent.
    hour_row = staff.locator("#hours-body tr")
    await hour_row.first.wait_for(timeout=10_000)
    cells = await hour_row.first.locator("td").all_inner_texts()
    assert cells == ["0", "0", "3", "–"]
    assert await staff.evaluate("localStorage.getItem('retail-edge.staff-token')")
    await column.get_by_role("button", name="Call next").click()
    called_row = column.locator(f'.called-list li[data-id="{ticket_id}"]')
    await called_row.wait_for(timeout=10_000)
    await screenshot(staff, "staff", docs=True)

    # 4. The phone learns it by itself (Server-Sent Events), no reload.
    await customer.wait_for_selector("#turn", state="visible", timeout=10_000)
    assert await customer.evaluate("window.__sameDocument === true")
    assert await customer.inner_text("#turn-title") == FR["turn_title"]
    assert await customer.inner_text("#turn-number") == "1"
    await screenshot(customer, "ticket-called-journey")

    # Staff marks it served: the phone shows the final message.
    await called_row.get_by_role("button", name="Served").click()
    await customer.get_by_text(FR["final_served"]).wait_for(timeout=10_000)
    assert await customer.locator("#turn").is_hidden()

    for context in (window, phone, tablet):
        await context.close()
    assert time.monotonic() - started < 45
