"""The agent's HTTP server: health, metrics, and the contract's error shape."""

from __future__ import annotations

import httpx

from tests.helpers import config_for


async def test_health_without_mqtt_says_disabled(write_config, start_agent) -> None:
    agent = await start_agent(config_for(write_config, None))
    async with httpx.AsyncClient(base_url=agent.base_url) as client:
        response = await client.get("/healthz")
        assert response.status_code == 200
        # agent.started is waiting in the outbox: with sync disabled it stays there.
        assert response.json() == {"status": "ok", "mqtt": "disabled", "outbox": 1}
        metrics = await client.get("/metrics")
        assert metrics.status_code == 200
        assert metrics.headers["content-type"].startswith("text/plain")
        assert "retail_edge_outbox_depth 1.0" in metrics.text


async def test_errors_have_the_contract_shape(write_config, start_agent) -> None:
    agent = await start_agent(config_for(write_config, None))
    async with httpx.AsyncClient(base_url=agent.base_url) as client:
        response = await client.get("/no/such/page")
        assert response.status_code == 404
        body = response.json()
        assert body["error"]["code"] == "not_found" and body["error"]["message"]
        response = await client.post("/healthz", content=b"\xff\xfe garbage")
        assert response.status_code == 405
        assert response.json()["error"]["code"] == "method_not_allowed"
