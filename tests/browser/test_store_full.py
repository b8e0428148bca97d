"""Capacity gating on the rendered pages (HTTP level): at capacity the join page and the
window screen say the store is full; a queue that is not the way in does not claim to be."""

from __future__ import annotations

import html

import httpx

from agent.config.loader import load_config
from agent.core.footfall import Direction
from agent.web.i18n import strings
from tests.integration.queue_fixtures import QUEUES, display_headers, token

EN = strings("en")

CAPACITY = "\n[occupancy]\ncapacity = 3\n"


async def test_join_page_and_window_say_the_store_is_full(write_config, start_agent) -> None:
    config = load_config(write_config(None, extra=QUEUES.format(max_waiting=50) + CAPACITY))
    agent = await start_agent(config)
    async with httpx.AsyncClient(base_url=agent.base_url) as client:
        url = f"/j/advice?w={token(agent)}&lang=en"
        before = (await client.get(url)).text
        assert 'id="notice-store-full"' not in before
        assert (await client.get("/api/v1/queues/advice/summary")).json()["store_full"] is False
        agent.components.footfall.occupancy.count("main", Direction.IN, 3)
        page = (await client.get(url)).text
        assert 'id="notice-store-full"' in page and "The store is full right now" in page
        # Advice is not an entry queue: its notice must not say joining it lets one in.
        shown = page.split('id="notice-store-full"', 1)[1].split("</section>", 1)[0]
        assert html.escape(EN["store_full_noentry_body"], quote=True) in shown
        assert html.escape(EN["store_full_body"], quote=True) not in shown
        assert 'id="window-token"' in page  # ... and the form to join is still there
        screen = await display_headers(client, config)
        window = (await client.get("/window/advice", headers=screen)).text
        assert 'data-state="store_full"' in window
        assert (await client.get("/api/v1/queues/advice/summary")).json()["store_full"] is True
