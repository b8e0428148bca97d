"""Helpers for queue tests: a config with queues, tokens, a paired staff client."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from agent import tools
from agent.config.loader import load_config
from agent.config.model import AgentConfig

QUEUES = """
[queues.advice]
label = "Conseil / Advice"
window_token = "rotating"
max_waiting = {max_waiting}

[queues.pickup]
label = "Retrait / Pick-up"
window_token = "static"
"""


def queue_config(
    write_config: Callable[..., Path],
    mqtt_url: str | None = None,
    *,
    max_waiting: int = 200,
    extra: str = "",
    http: str = "",
) -> AgentConfig:
    path = write_config(mqtt_url, extra=QUEUES.format(max_waiting=max_waiting) + extra)
    if http:
        text = path.read_text().replace("[http]\n", "[http]\n" + http + "\n", 1)
        path.write_text(text)
    return load_config(path)


def token(agent: Any, queue: str = "advice") -> str:
    queues = agent.components.queues
    if queues.queue_config(queue).window_token == "static":
        return str(queues.tokens.static(queue, 1))
    return str(queues.tokens.rotating(queue, time.time()))


async def join(
    client: httpx.AsyncClient, agent: Any, queue: str = "advice", **body: Any
) -> dict[str, Any]:
    payload = {"window_token": token(agent, queue)} | body
    response = await client.post(f"/api/v1/queues/{queue}/tickets", json=payload)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def staff_headers(
    client: httpx.AsyncClient, config: AgentConfig, name: str = "tablet-1"
) -> dict[str, str]:
    code = tools.pairing_code(config, name)
    response = await client.post("/api/v1/pair", json={"code": code, "device_name": name})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


async def display_headers(
    client: httpx.AsyncClient, config: AgentConfig, name: str = "window-1"
) -> dict[str, str]:
    """Pair a window screen (contract 8.1) the way the window page does, through the API."""
    code = tools.pairing_code(config, name, "display")
    response = await client.post("/api/v1/pair", json={"code": code, "device_name": name})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def midday_zone() -> str:
    """A fixed-offset time zone in which it is now around midday, for tests whose bookings
    are minutes from now and must fall on the store's today (never across its midnight)."""
    offset = 12 - datetime.now(UTC).hour  # -11 .. +12
    return f"Etc/GMT{-offset:+d}" if offset else "Etc/GMT"


def in_zone(config: AgentConfig, zone: str) -> AgentConfig:
    """The same config with the store in ``zone``."""
    return replace(config, store=replace(config.store, timezone=zone))
