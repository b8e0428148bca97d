"""Contract 8.5 on the tablets, as staff see it: an arrival alert card showing on two tablets
disappears from both when the customer is erased through the real broker, and stays gone
after a tablet reloads (the stream's snapshot), while another customer's card stays."""

from __future__ import annotations

import asyncio

import pytest
from playwright.async_api import Page

from agent import tools
from agent.config.loader import load_config
from agent.web.i18n import strings
from simulators.central import CentralService
from simulators.mosquitto import MosquittoBroker
from tests.browser.support import TABLET, screenshot
from tests.helpers import eventually
from tests.integration.queue_fixtures import QUEUES
from tests.integration.recognition_fixtures import DEVICES, customer

pytestmark = pytest.mark.browser
EN = strings("en")


async def card_box(page: Page, customer_name: str) -> dict[str, float] | None:
    """Where the customer's alert card is drawn, or None if nobody can see it."""
    card = page.locator(".alert-card", has_text=customer_name)
    if await card.count() == 0 or not await card.first.is_visible():
        return None
    return await card.first.bounding_box()


async def test_an_erased_customers_alert_leaves_every_tablet(
    browser, broker: MosquittoBroker, central: CentralService, write_config, start_agent
) -> None:
    config = load_config(write_config(broker.url, extra=QUEUES.format(max_waiting=50) + DEVICES))
    agent = await start_agent(config)
    await asyncio.wait_for(agent.components.link.connected.wait(), 10)
    erased, staying = customer(3), customer(4)
    central.publish_customer(erased)
    central.publish_customer(staying)
    await eventually(lambda: len(agent.components.recognition.directory) == 2, message="records")

    tablets: list[Page] = []
    for name in ("tablet-a", "tablet-b"):
        context = await browser.new_context(**TABLET, locale="en-GB")
        page = await context.new_page()
        await page.goto(f"{agent.base_url}/staff")
        await page.get_by_label(EN["pair_code"]).fill(tools.pairing_code(config, name))
        await page.get_by_role("button", name=EN["pair_button"]).click()
        await page.locator("#live.is-live").wait_for(timeout=10_000)
        tablets.append(page)

    reader = agent.components.extras["nfc"]
    reader.tap(erased["credentials"]["nfc_uids"][0])
    reader.tap(staying["credentials"]["nfc_uids"][0])
    viewport = TABLET["viewport"]
    for index, page in enumerate(tablets):
        for who in (erased, staying):
            card = page.locator(".alert-card", has_text=who["display_name"])
            await card.wait_for(state="visible", timeout=10_000)
            box = await card_box(page, who["display_name"])
            assert box is not None and box["width"] > 0 and box["height"] > 0
            assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"]
        await screenshot(page, f"alerts-before-erase-{index}")

    central.publish_customer({"op": "erase", "customer_id": erased["customer_id"], "version": 2})
    for index, page in enumerate(tablets):
        gone = page.locator(".alert-card", has_text=erased["display_name"])
        await gone.wait_for(state="detached", timeout=10_000)
        assert await card_box(page, erased["display_name"]) is None
        assert await card_box(page, staying["display_name"]) is not None
        await screenshot(page, f"alerts-after-erase-{index}")

    # A tablet that reloads (or an agent that restarted) rebuilds its cards from the store.
    for index, page in enumerate(tablets):
        await page.reload()
        await page.locator("#live.is-live").wait_for(timeout=10_000)
        kept = page.locator(".alert-card", has_text=staying["display_name"])
        await kept.wait_for(state="visible", timeout=10_000)
        assert await card_box(page, erased["display_name"]) is None
        text = await page.locator("body").inner_text()
        assert erased["display_name"] not in text
        await screenshot(page, f"alerts-after-reload-{index}")
    for page in tablets:
        await page.context.close()
