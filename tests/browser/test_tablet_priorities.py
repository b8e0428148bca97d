"""The tablet with priority classes and booked appointments (issue 14), as staff see it on
both orientations: a waiting row's priority choice puts the ticket first, the row says so,
and every queue control (call next, add walk-in, counter, call, priority, move, the booked
list) is inside the viewport. Screenshots in docs/screenshots/ (UPDATE_SCREENSHOTS=1)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.async_api import Page

from agent import tools
from agent.core.appointments import ApplyAppointmentDay, parse_appointment_day
from agent.core.clock import rfc3339
from agent.core.messages import CheckInTicketCode
from agent.web.i18n import strings
from tests.browser.support import screenshot
from tests.browser.test_staff_actions import inside_viewport
from tests.integration.queue_fixtures import in_zone, midday_zone, staff_headers

pytestmark = pytest.mark.browser
EN = strings("en")
PRIORITIES = """
[priorities.mobility]
label_en = "Reduced mobility"
label_fr = "Mobilité réduite"
ahead_s = 1800
"""
SIZES = {"landscape": (1180, 820), "portrait": (820, 1180)}
ZONE = midday_zone()  # bookings minutes from now fall on the store's today


async def book_today(agent) -> None:  # type: ignore[no-untyped-def]
    """The day list as central publishes it (the MQTT path is tests/integration's), then the
    first booking's QR code at the counter camera's command."""
    now = datetime.now(UTC)
    day = now.astimezone(ZoneInfo(ZONE)).date().isoformat()
    bookings = [
        {"id": "b-1", "queue": "advice", "at": rfc3339(now + timedelta(minutes=5)),
         "name": "Dana", "checkin_code": "dana-booking-code-0001"},
        {"id": "b-2", "queue": "advice", "at": rfc3339(now + timedelta(minutes=40)),
         "name": "Elias", "party_size": 2},
    ]  # fmt: skip
    payload = json.dumps({"day": day, "version": 1, "appointments": bookings}).encode()
    bus = agent.components.bus
    assert await bus.handle(ApplyAppointmentDay(parse_appointment_day(payload, day)))
    assert await bus.handle(CheckInTicketCode("RE-B1.dana-booking-code-0001"))


async def paired_tablet(browser, agent, config, size: tuple[int, int]) -> tuple[object, Page]:  # type: ignore[no-untyped-def]
    width, height = size
    context = await browser.new_context(
        viewport={"width": width, "height": height}, has_touch=True, locale="en-GB"
    )
    page = await context.new_page()
    await page.goto(f"{agent.base_url}/staff")
    await page.get_by_label(EN["pair_code"]).fill(tools.pairing_code(config, "tablet-p"))
    await page.get_by_role("button", name=EN["pair_button"]).click()
    await page.locator("#live.is-live").wait_for(timeout=10_000)
    return context, page


@pytest.mark.parametrize("orientation", ["landscape", "portrait"])
async def test_priority_on_a_waiting_row_in_both_orientations(
    browser, browser_config, start_agent, orientation: str
) -> None:
    config = in_zone(browser_config(extra=PRIORITIES), ZONE)
    agent = await start_agent(config)
    async with httpx.AsyncClient(base_url=agent.base_url) as client:
        staff = await staff_headers(client, config)
        for name in ("Alice", "Chloé"):
            r = await client.post(
                "/api/v1/queues/advice/tickets", json={"name": name}, headers=staff
            )
            assert r.status_code == 201
    await book_today(agent)
    context, page = await paired_tablet(browser, agent, config, SIZES[orientation])
    advice = page.locator('.queue-col[data-queue="advice"]')
    rows = advice.locator(".waiting-list .ticket-row")
    await rows.nth(2).wait_for(timeout=5_000)
    third = rows.nth(2)
    # Dana's booking (in 5 min, on time) is ahead of the walk-ins; Elias's is still expected.
    assert "Dana" in await rows.first.inner_text()
    await rows.first.locator(".flag.booked").wait_for()
    booked = advice.locator(".booked-list .booked-row")
    await booked.first.wait_for(timeout=5_000)
    assert "Elias" in await booked.first.inner_text()
    choice = third.get_by_label(EN["priority_label"].format(n=2))
    for control in (
        advice.get_by_role("button", name=EN["walk_in"]),
        advice.locator(".call-next"),
        page.locator("#counter"),
        third.get_by_role("button", name=EN["call"]),
        choice,
        third.get_by_role("button", name=EN["move_to"].format(queue="Retrait / Pick-up")),
        rows.first.locator(".flag.booked"),
    ):
        await inside_viewport(page, control)
    # The booked list is not a control: below the queue's rows, shown (on landscape it is
    # reached by scrolling the page).
    assert await booked.first.is_visible()

    await choice.select_option(label="Reduced mobility")
    first = rows.first
    await first.locator(".flag.priority").wait_for(timeout=5_000)
    assert "Chloé" in await first.inner_text()
    assert "priority: Reduced mobility" in await first.inner_text()
    await inside_viewport(page, first.locator(".flag.priority"))
    (marked, *_) = agent.components.queues.queue_view("advice").waiting
    assert marked.name == "Chloé" and marked.priority == "mobility"
    await screenshot(page, f"staff-priorities-{orientation}", docs=True)
    await context.close()
