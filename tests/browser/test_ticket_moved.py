"""A staff move (contract 8.7) as the customer sees it on their phone: the ticket page names
the new queue and its new number at once (within 2 s, by what is shown), not at its next
re-read, and a later call in the new queue reaches the page too."""

from __future__ import annotations

import time

import httpx
import pytest

from agent.web.i18n import strings
from tests.browser.support import PHONE, screenshot
from tests.browser.test_ticket_live import join_by_tap
from tests.integration.queue_fixtures import staff_headers

pytestmark = pytest.mark.browser
EN = strings("en")


async def test_the_phone_shows_the_new_queue_within_two_seconds_of_a_move(
    browser, browser_config, start_agent
) -> None:
    config = browser_config()
    agent = await start_agent(config)
    async with httpx.AsyncClient(base_url=agent.base_url) as client:
        staff = await staff_headers(client, config)
        context, page = await join_by_tap(browser, agent, locale="en-GB")
        # Someone joins pick-up later, so the moved ticket gets a number there that differs
        # from its old one, and goes first by its (earlier) join time.
        later = await client.post("/api/v1/queues/pickup/tickets", json={}, headers=staff)
        assert later.status_code == 201, later.text
        assert PHONE["viewport"]["width"] == 390
        label = page.locator("h1.queue-label")
        assert (await label.inner_text()).strip() == "Conseil / Advice"
        await page.locator("#live").wait_for(state="attached")
        ticket_id = page.url.rsplit("/", 1)[-1]
        # Let the page's stream settle on its first frame before the move.
        await page.wait_for_function("document.body.dataset.state === 'waiting'")

        moved_at = time.monotonic()
        r = await client.post(
            f"/api/v1/tickets/{ticket_id}/move", json={"queue": "pickup"}, headers=staff
        )
        assert r.status_code == 200, r.text
        assert r.json()["number"] == 2
        await page.locator("h1.queue-label", has_text="Retrait / Pick-up").wait_for(timeout=2_000)
        await page.locator("#number", has_text="2").wait_for(timeout=2_000)
        shown_after = time.monotonic() - moved_at
        assert shown_after < 2.0, shown_after
        assert await label.is_visible()
        box = await label.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
        # First in pick-up: it joined before the walk-in that was there.
        assert (await page.locator("#ahead").inner_text()).strip() == EN["ahead_0"]
        await screenshot(page, "ticket-moved")

        # Now a call in pick-up, the new queue, reaches the page's stream at once as well.
        r = await client.post("/api/v1/queues/pickup/call-next", headers=staff)
        assert r.status_code == 200 and r.json()["id"] == ticket_id, r.text
        await page.locator("#turn").wait_for(state="visible", timeout=2_000)
        await context.close()
