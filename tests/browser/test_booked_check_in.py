"""Staff check a booking in by hand on the tablet (issue 14), as they see it at 1180x820 and 820x1180: the
"Check in" button of a booked row is inside the viewport, and after the tap the booked
customer is in the waiting list (on time: ahead of the walk-in) and gone from "Booked", and
the tablet shows the ticket page's QR code, which a phone opens on that ticket."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from agent.core.appointments import ApplyAppointmentDay, parse_appointment_day
from agent.core.clock import rfc3339
from agent.web.i18n import strings
from tests.browser.support import decode_qr, screenshot
from tests.browser.test_staff_actions import inside_viewport
from tests.browser.test_tablet_priorities import SIZES, paired_tablet
from tests.integration.queue_fixtures import in_zone, midday_zone, staff_headers

pytestmark = pytest.mark.browser
EN = strings("en")
ZONE = midday_zone()  # bookings minutes from now fall on the store's today


@pytest.mark.parametrize("orientation", ["landscape", "portrait"])
async def test_check_in_a_booking_by_hand_on_the_tablet(
    browser, browser_config, start_agent, orientation: str
) -> None:
    config = in_zone(browser_config(), ZONE)
    agent = await start_agent(config)
    async with httpx.AsyncClient(base_url=agent.base_url) as client:
        staff = await staff_headers(client, config)
        r = await client.post(
            "/api/v1/queues/advice/tickets", json={"name": "Alice"}, headers=staff
        )
        assert r.status_code == 201
    now = datetime.now(UTC)
    day = now.astimezone(ZoneInfo(ZONE)).date().isoformat()
    bookings = [
        {"id": "b-1", "queue": "advice", "at": rfc3339(now + timedelta(minutes=5)), "name": "Dana"},
        {"id": "b-2", "queue": "advice", "at": rfc3339(now + timedelta(minutes=50)),
         "name": "Elias", "party_size": 2},
    ]  # fmt: skip
    payload = json.dumps({"day": day, "version": 1, "appointments": bookings}).encode()
    assert await agent.components.bus.handle(
        ApplyAppointmentDay(parse_appointment_day(payload, day))
    )

    context, page = await paired_tablet(browser, agent, config, SIZES[orientation])
    advice = page.locator('.queue-col[data-queue="advice"]')
    waiting = advice.locator(".waiting-list .ticket-row")
    booked = advice.locator(".booked-list .booked-row")
    await booked.nth(1).wait_for(timeout=5_000)
    dana = booked.filter(has_text="Dana")
    check_in = dana.get_by_role("button", name=EN["appointment_check_in_label"].format(
        name="Dana", t=page_clock(bookings[0]["at"])
    ))  # fmt: skip
    await inside_viewport(page, check_in)
    assert await waiting.count() == 1
    await screenshot(page, f"staff-booked-check-in-before-{orientation}")

    await check_in.tap()
    await advice.locator(".booked-list .booked-row", has_text="Dana").wait_for(
        state="detached", timeout=5_000
    )
    await waiting.nth(1).wait_for(timeout=5_000)
    # On time: the booked place, ahead of Alice who walked in just now.
    first = waiting.first
    assert "Dana" in await first.inner_text()
    assert "Alice" in await waiting.nth(1).inner_text()
    await inside_viewport(page, first.locator(".who"))
    await inside_viewport(page, first.locator(".flag.booked"))
    assert await booked.count() == 1 and "Elias" in await booked.first.inner_text()
    number = agent.components.queues.queue_view("advice").waiting[0].number
    toast = page.locator("#toast")
    await toast.filter(has_text=EN["appointment_checked_in"].format(n=number)).wait_for()
    await inside_viewport(page, toast)

    # The ticket page's QR code, for the customer's phone: what a camera reads on the screen.
    dialog = page.locator("#ticket-link")
    await dialog.wait_for(timeout=5_000)
    assert EN["appointment_link_text"].format(n=number) in await dialog.inner_text()
    close = dialog.get_by_role("button", name=EN["appointment_link_close"])
    await inside_viewport(page, dialog.locator("svg"))
    await inside_viewport(page, close)
    png = await page.screenshot()  # the viewport, as the person sees it
    await screenshot(page, f"staff-booked-check-in-after-{orientation}", docs=True)
    (link,) = decode_qr(png)
    ticket_id = agent.components.queues.queue_view("advice").waiting[0].id
    assert link.startswith(f"{config.http.public_url}/t/{ticket_id}/open?s="), link
    phone_context = await browser.new_context(viewport={"width": 390, "height": 844})
    phone = await phone_context.new_page()
    await phone.goto(link)
    await phone.locator("#number").wait_for(timeout=5_000)
    assert await phone.inner_text("#number") == str(number)
    await inside_viewport(phone, phone.locator("#number"))
    await screenshot(phone, f"booked-ticket-phone-{orientation}")
    await phone_context.close()

    await close.tap()
    await dialog.wait_for(state="hidden", timeout=5_000)
    await inside_viewport(page, first.locator(".who"))
    await context.close()


def page_clock(iso: str) -> str:
    """The booked time as the tablet writes it: HH:MM on the store's clock."""
    return datetime.fromisoformat(iso).astimezone(ZoneInfo(ZONE)).strftime("%H:%M")
