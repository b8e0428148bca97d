"""Helpers the tests import (fixtures live in conftest.py)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from agent.config.loader import load_config
from agent.config.model import AgentConfig
from simulators.central import CentralService


@contextlib.asynccontextmanager
async def running_central(url: str, **options: Any) -> AsyncIterator[CentralService]:
    """The simulated central service, connected and subscribed, stopped on exit."""
    service = CentralService(url, **options)
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    await asyncio.wait_for(service.ready.wait(), timeout=10)
    try:
        yield service
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=10)


async def eventually(
    predicate: Callable[[], bool], timeout: float = 10.0, message: str = "condition"
) -> None:
    """Poll until ``predicate()`` holds; fail with ``message`` after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {message}")
        await asyncio.sleep(0.02)


def config_for(write_config: Callable[..., Path], url: str | None, **keys: Any) -> AgentConfig:
    return load_config(write_config(url, **keys))
