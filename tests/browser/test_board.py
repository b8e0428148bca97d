"""The in-store "now serving" board (contract 8.6): who may read it, what its JSON says, and
what a person in the store sees on a TV: a number a tablet just called, within a second, in
type large enough for 5 m, said aloud in French and English when that is turned on."""

from __future__ import annotations

import time
from datetime import datetime

import httpx
import pytest
from playwright.async_api import Page

from agent import tools
from tests.browser.support import screenshot
from tests.integration.queue_fixtures import display_headers, join, staff_headers

TV_1080 = {"viewport": {"width": 1920, "height": 1080}}
TV_720 = {"viewport": {"width": 1280, "height": 720}}


async def test_board_api_answers_paired_screens_only(browser_config, start_agent) -> None:
    config = browser_config()
    agent = await start_agent(config)
    async with httpx.AsyncClient(base_url=agent.base_url, timeout=10) as client:
        # Unpaired: the JSON and the stream are refused, the page is a code field.
        assert (await client.get("/api/v1/board")).status_code == 401
        assert (await client.get("/api/v1/board/stream")).status_code == 401
        page = await client.get("/board")
        assert page.status_code == 200
        assert 'id="window-pair-form"' in page.text and "board-number" not in page.text
        wrong = {"Authorization": "Bearer not-a-token"}
        assert (await client.get("/api/v1/board", headers=wrong)).status_code == 401

        screen = await display_headers(client, config)
        tablet = await staff_headers(client, config)
        empty = (await client.get("/api/v1/board", headers=screen)).json()
        assert empty == {
            "queues": [{"queue": "advice", "serving": []}, {"queue": "pickup", "serving": []}]
        }
        for _ in range(3):
            await join(client, agent)
        for _ in range(2):
            r = await client.post("/api/v1/queues/advice/call-next", headers=tablet)
            assert r.status_code == 200, r.text
        for headers in (screen, tablet):
            answer = await client.get("/api/v1/board", headers=headers)
            assert answer.status_code == 200
            advice, pickup = answer.json()["queues"]
            assert advice["queue"] == "advice" and pickup == {"queue": "pickup", "serving": []}
            assert [s["number"] for s in advice["serving"]] == [2, 1]  # most recent first
            for served in advice["serving"]:
                assert set(served) == {"number", "counter", "called_at"}
                assert served["counter"] is None
                assert datetime.fromisoformat(served["called_at"]).tzinfo is not None
        # A number stays on the board once served (the customer may still be walking up).
        number_2 = (await client.get("/api/v1/queues/advice", headers=tablet)).json()
        first_called = number_2["called"][0]["id"]
        assert (
            await client.post(f"/api/v1/tickets/{first_called}/served", headers=tablet)
        ).status_code == 200
        served = (await client.get("/api/v1/board", headers=screen)).json()["queues"][0]
        assert [s["number"] for s in served["serving"]] == [2, 1]
        # The ticket page's line: the same list for one queue, without a token.
        one = (await client.get("/api/v1/queues/advice/serving")).json()
        assert [s["number"] for s in one["serving"]] == [2, 1]
        assert (await client.get("/api/v1/queues/nope/serving")).status_code == 404


async def pair_board(page: Page, base: str, code: str, query: str = "") -> None:
    await page.goto(f"{base}/board{query}")
    await page.locator("#window-pair-code").fill(code)
    await page.locator("#window-pair-form button[type=submit]").click()
    await page.locator(".board-queue").first.wait_for(timeout=10_000)


async def inside(page: Page, selector: str, viewport: dict[str, int]) -> dict[str, float]:
    box = await page.locator(selector).bounding_box()
    assert box is not None, f"{selector} is not shown"
    assert box["x"] >= 0 and box["y"] >= 0, selector
    assert box["x"] + box["width"] <= viewport["width"], selector
    assert box["y"] + box["height"] <= viewport["height"], selector
    return box


# Records what the page asks the browser to say (a headless browser has no voices) and the
# tones it starts on a running audio context (a headless browser has no speakers).
RECORD_SPEECH = """
window.__said = [];
window.__tones = 0;
if (window.speechSynthesis) {
  window.speechSynthesis.speak = function (u) { window.__said.push([u.lang, u.text]); };
}
var start = OscillatorNode.prototype.start;
OscillatorNode.prototype.start = function () {
  if (this.context.state === "running") window.__tones += 1;
  return start.apply(this, arguments);
};
"""


@pytest.mark.browser
async def test_a_call_shows_on_the_board_within_a_second(
    browser, browser_config, start_agent
) -> None:
    config = browser_config()
    agent = await start_agent(config)
    base = agent.base_url
    context = await browser.new_context(**TV_1080)
    await context.add_init_script(RECORD_SPEECH)
    page = await context.new_page()
    await pair_board(page, base, tools.pairing_code(config, "board", "display"))
    advice = '.board-queue[data-queue="advice"]'
    assert (await page.inner_text(f"{advice} [data-role=now]")).strip() == "–"
    await page.locator("#board-speech").click()  # someone turns the voice on, once
    assert await page.locator("#board-speech").get_attribute("aria-pressed") == "true"

    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        tablet = await staff_headers(client, config)
        for _ in range(3):
            await join(client, agent)
        delays: list[float] = []
        for expected in ("1", "2"):
            started = time.perf_counter()
            r = await client.post("/api/v1/queues/advice/call-next", headers=tablet)
            assert r.status_code == 200
            await page.wait_for_function(
                "([sel, n]) => document.querySelector(sel).innerText.trim() === n",
                arg=[f"{advice} [data-role=now]", expected],
                timeout=5_000,
                polling="raf",
            )
            delays.append(time.perf_counter() - started)
    assert max(delays) < 1.0, f"call -> board took {delays}"
    assert await page.locator(f"{advice}.is-new").count() == 1  # the new number lights up

    # What a person reads: the new number, large, inside the screen; the one before it below.
    box = await inside(page, f"{advice} [data-role=now]", TV_1080["viewport"])
    assert box["height"] >= 0.2 * TV_1080["viewport"]["height"], "too small to read at 5 m"
    assert (await page.inner_text(f"{advice} [data-role=history]")).split() == ["1"]
    assert await page.locator(f"{advice} [data-role=now]").is_visible()
    # The new number's column lit up, and goes back to normal once its highlight ends.
    await page.locator(f"{advice}.is-new").wait_for(state="detached", timeout=10_000)
    assert await page.evaluate("window.__tones") == 4, "a two-note chime for each new number"
    said = await page.evaluate("window.__said")
    assert ["fr-FR", "Numéro 2"] in said and ["en-GB", "Number 2"] in said, said
    await screenshot(page, "board", docs=True)

    # The same board on a 720p screen: everything still inside it.
    await page.set_viewport_size(TV_720["viewport"])
    for selector in (f"{advice} [data-role=now]", "#board-sound", ".board-title"):
        await inside(page, selector, TV_720["viewport"])
    await screenshot(page, "board-720")
    await context.close()


@pytest.mark.browser
async def test_a_revoked_board_goes_back_to_the_code_field(
    browser, browser_config, start_agent
) -> None:
    config = browser_config()
    agent = await start_agent(config)
    context = await browser.new_context(**TV_720)
    page = await context.new_page()
    await pair_board(page, agent.base_url, tools.pairing_code(config, "board-9", "display"))
    assert tools.revoke_device(config, "board-9") == 1
    await page.locator("#window-pair-form").wait_for(timeout=15_000)
    assert await page.locator(".board-number").count() == 0
    await context.close()


@pytest.mark.browser
@pytest.mark.parametrize("theme", ["dark", "light"])
async def test_board_theme(browser, browser_config, start_agent, theme: str) -> None:
    config = browser_config()
    agent = await start_agent(config)
    context = await browser.new_context(**TV_720)
    page = await context.new_page()
    query = "" if theme == "dark" else "?theme=light"
    await pair_board(page, agent.base_url, tools.pairing_code(config, "b", "display"), query)
    background = await page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == ("rgb(13, 17, 23)" if theme == "dark" else "rgb(255, 255, 255)")
    await context.close()
