"""On a 1180×820 tablet: the manager view's charts are on screen and drawn (non-blank
pixels in each chart's own region of a screenshot), the CSV downloads with a row per day;
a walk-in's paper ticket is reported on the tablet, and a printer that went off is too."""

from __future__ import annotations

import csv
import io

import cv2
import numpy as np
import pytest
from playwright.async_api import Locator, Page

from agent import tools
from agent.core.clock import ManualClock
from agent.web.i18n import strings
from simulators.printer import SimulatedPrinter
from tests.browser.support import TABLET, screenshot
from tests.integration.test_manager_report import NOW, seed

pytestmark = pytest.mark.browser
EN = strings("en")


async def inside_viewport(page: Page, control: Locator) -> None:
    box = await control.bounding_box()
    size = page.viewport_size
    assert box is not None and size is not None
    assert box["x"] >= 0 and box["y"] >= 0, box
    assert box["x"] + box["width"] <= size["width"], box
    assert box["y"] + box["height"] <= size["height"], box


def ink(png: bytes) -> tuple[float, int]:
    """Share of pixels that are not the white background, and how many grey levels."""
    image = cv2.imdecode(np.frombuffer(png, dtype=np.uint8), cv2.IMREAD_GRAYSCALE)
    assert image is not None
    return float(np.mean(image < 235)), len(np.unique(image // 16))


async def pair_tablet(page: Page, base_url: str, code: str) -> None:
    await page.goto(f"{base_url}/staff")
    await page.get_by_label(EN["pair_code"]).fill(code)
    await page.get_by_role("button", name=EN["pair_button"]).click()
    await page.locator("#live.is-live").wait_for(timeout=10_000)


async def test_the_manager_sees_the_charts_and_downloads_the_csv(
    browser, browser_config, start_agent
) -> None:
    config = browser_config()
    seed(config)
    agent = await start_agent(config, clock=ManualClock(NOW))
    context = await browser.new_context(**TABLET, locale="en-GB", accept_downloads=True)
    page = await context.new_page()
    await pair_tablet(page, agent.base_url, tools.pairing_code(config, "office", "manager"))
    # A manager's tablet is the staff tablet plus the way to the report.
    link = page.get_by_role("link", name=EN["manager_link"])
    await inside_viewport(page, link)
    await link.click()
    await page.locator("#chart-heatmap").wait_for(timeout=5_000)
    assert page.url.endswith("/manager")

    charts = ("#chart-heatmap", "#chart-waits", "#chart-accuracy", "#chart-customers")
    for selector in charts:
        chart = page.locator(selector)
        await chart.wait_for(timeout=5_000)
        await inside_viewport(page, chart)
        share, levels = ink(await chart.screenshot())
        assert share > 0.05 and levels >= 3, (selector, share, levels)
    for tile in ("#tile-joins-per-100", "#tile-no-show", "#tile-walkout", "#manager-csv"):
        await inside_viewport(page, page.locator(tile))
    # The heatmap shows a busy Friday afternoon and an empty night, as seeded.
    friday_5pm = page.locator("#chart-heatmap rect title", has_text="Fri 17h")
    assert int((await friday_5pm.text_content() or "").rsplit(": ", 1)[1]) > 0
    night = page.locator("#chart-heatmap rect title", has_text="Fri 03h")
    assert (await night.text_content() or "").endswith(": 0")
    await screenshot(page, "manager-view", docs=True)

    async with page.expect_download() as waiting:
        await page.locator("#manager-csv").click()
    download = await waiting.value
    path = await download.path()
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    report = (await agent.components.reports.report(30)).daily
    assert [r["day"] for r in rows] == [d.day for d in report]
    assert [int(r["entries"]) for r in rows] == [d.entries for d in report]
    assert download.suggested_filename == f"manager-report-{report[0].day}-{report[-1].day}.csv"

    # Seven days: the tab is marked and the charts redraw with 7 bars.
    await page.get_by_role("link", name=EN["manager_days"].format(n=7)).click()
    await page.locator('a[aria-current="page"][href="/manager?days=7"]').wait_for()
    assert await page.locator("#chart-waits rect.bar").count() == 7
    await context.close()


async def test_a_walk_in_prints_and_the_tablet_says_when_the_printer_is_off(
    browser, browser_config, start_agent
) -> None:
    async with SimulatedPrinter() as printer:
        config = browser_config(extra=f'\n[printer]\nurl = "{printer.url}"\n')
        agent = await start_agent(config)
        context = await browser.new_context(**TABLET, locale="en-GB")
        page = await context.new_page()
        await pair_tablet(page, agent.base_url, tools.pairing_code(config, "tablet-1"))
        assert await page.get_by_role("link", name=EN["manager_link"]).count() == 0
        advice = page.locator('.queue-col[data-queue="advice"]')
        await advice.get_by_role("button", name=EN["walk_in"]).click()
        bar = page.locator("#print-bar")
        await bar.get_by_text(EN["print_done"].format(n=1)).wait_for(timeout=5_000)
        [job] = await printer.wait_jobs(1)
        assert "1" in job.lines and len(job.qr_codes) == 1

        await printer.switch_off()
        again = bar.get_by_role("button", name=EN["print_again"].format(n=1))
        await inside_viewport(page, again)
        await again.click()
        failed = page.locator("#print-bar.is-failed")
        await failed.get_by_text(EN["print_failed"].format(n=1)).wait_for(timeout=5_000)
        await inside_viewport(page, failed)
        # The queue's own controls are still where staff reach them.
        await inside_viewport(page, advice.locator(".call-next"))
        await screenshot(page, "staff-print-failed", docs=True)
        await context.close()
