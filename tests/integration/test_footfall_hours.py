"""Entries, exits and queue joins per local hour, and the conversion proxy, for the tablets."""

from __future__ import annotations

import httpx

from agent.core.readings import FootfallCount
from tests.integration.queue_fixtures import join, queue_config, staff_headers


async def test_hourly_footfall_with_joins_and_conversion(write_config, start_agent) -> None:
    agent = await start_agent(queue_config(write_config))
    footfall = agent.components.footfall
    for value in range(1, 9):  # a door node's cumulative counter: 8 people in
        await footfall.count(FootfallCount("main:in", "main", "in", value, True, 0.0))
    await footfall.count(FootfallCount("main:out", "main", "out", 3, True, 0.0))
    async with httpx.AsyncClient(base_url=agent.base_url, timeout=10) as client:
        for _ in range(2):
            await join(client, agent)
        assert (await client.get("/api/v1/footfall/hours")).status_code == 401
        headers = await staff_headers(client, agent.components.config)
        response = await client.get("/api/v1/footfall/hours", headers=headers)
        assert response.status_code == 200
        data = response.json()
        (hour,) = data["hours"]
        assert hour["entered"] == 8 and hour["left"] == 3 and hour["joins"] == 2
        assert hour["conversion"] == 0.25 and data["conversion"] == 0.25
        assert data["entered"] == 8 and data["joins"] == 2

        bad = await client.get("/api/v1/footfall/hours?day=yesterday", headers=headers)
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_day"
        empty = await client.get("/api/v1/footfall/hours?day=2020-01-01", headers=headers)
        assert empty.json() == {
            "day": "2020-01-01",
            "hours": [],
            "entered": 0,
            "joins": 0,
            "conversion": None,
        }
        page = await client.get("/staff")  # the pairing left the tablet's cookie
        assert 'id="hours-table"' in page.text
