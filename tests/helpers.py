"""Helpers the tests import (fixtures live in conftest.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agent.config.loader import load_config
from agent.config.model import AgentConfig


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
