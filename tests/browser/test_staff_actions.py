"""The staff tablet's ticket actions (contract 8.7) as a person on a 1180×820 tablet uses
them: every control inside the viewport (bounding boxes), call a waiting customer out of
turn to this tablet's counter, serve, undo, add a walk-in."""

from __future__ import annotations

import pytest
from playwright.async_api import Locator, Page

from agent import tools
from agent.web.i18n import strings
from tests.browser.support import TABLET, screenshot

pytestmark = pytest.mark.browser
EN = strings("en")


async def inside_viewport(page: Page, control: Locator) -> None:
    box = await control.bounding_box()
    size = page.viewport_size
    assert box is not None and size is not None
    assert box["x"] >= 0 and box["y"] >= 0, box
    assert box["x"] + box["width"] <= size["width"], box
    assert box["y"] + box["height"] <= size["height"], box


async def test_call_serve_undo_and_walk_in_on_a_tablet(
    browser, browser_config, start_agent
) -> None:
    config = browser_config()
    agent = await start_agent(config)
    context = await browser.new_context(**TABLET, locale="en-GB")
    page = await context.new_page()
    await page.goto(f"{agent.base_url}/staff")
    await page.get_by_label(EN["pair_code"]).fill(tools.pairing_code(config, "tablet-3"))
    await page.get_by_role("button", name=EN["pair_button"]).click()
    await page.locator("#live.is-live").wait_for(timeout=10_000)

    await page.locator("#counter").fill("2")
    await page.locator("#counter").dispatch_event("change")
    advice = page.locator('.queue-col[data-queue="advice"]')
    walk_in = advice.get_by_role("button", name=EN["walk_in"])
    for n in (1, 2, 3):
        await walk_in.click()
        await page.locator("#toast", has_text=f"number {n}").wait_for(timeout=5_000)
    rows = advice.locator(".waiting-list .ticket-row")
    await rows.nth(2).wait_for(timeout=5_000)
    second = rows.nth(1)
    for control in (
        walk_in,
        advice.locator(".call-next"),
        page.locator("#counter"),
        second.get_by_role("button", name=EN["call"]),
        second.get_by_role("button", name=EN["move_to"].format(queue="Retrait / Pick-up")),
    ):
        await inside_viewport(page, control)

    await second.get_by_role("button", name=EN["call"]).click()
    called = advice.locator(".called-list .ticket-row")
    await called.first.wait_for(timeout=5_000)
    assert "counter 2" in await called.first.inner_text()
    (ticket,) = agent.components.queues.queue_view("advice").called
    assert ticket.number == 2 and ticket.counter == "2"

    await called.first.get_by_role("button", name=EN["served"]).click()
    undo = page.locator("#undo")
    await undo.wait_for(state="visible", timeout=5_000)
    await inside_viewport(page, undo)
    await screenshot(page, "staff-undo")
    await undo.click()
    await called.first.wait_for(timeout=5_000)
    (back,) = agent.components.queues.queue_view("advice").called
    assert back.id == ticket.id and back.state == "called"
    await context.close()
