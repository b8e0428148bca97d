"""Helpers the tests import (fixtures live in conftest.py)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from agent.bootstrap import Components, assemble, build
from agent.config.loader import load_config
from agent.config.model import AgentConfig
from agent.core.ports import Clock
from agent.daemon import AgentDaemon
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


class RunningAgent:
    def __init__(self, components: Components, daemon: AgentDaemon) -> None:
        self.components = components
        self.daemon = daemon

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.daemon.web.port}"


AgentStarter = Callable[..., Awaitable[RunningAgent]]


@contextlib.asynccontextmanager
async def started_agents() -> AsyncIterator[AgentStarter]:
    """What the `start_agent` fixtures give: a function that builds and starts an agent; every
    agent it started is stopped on exit. A context manager, so that the browser tests' copy of
    the fixture (run in their shared event loop) is the same code."""
    running: list[RunningAgent] = []

    async def start(config: AgentConfig, *, clock: Clock | None = None) -> RunningAgent:
        components = build(config, clock=clock)
        daemon = assemble(components)
        await daemon.start()
        agent = RunningAgent(components, daemon)
        running.append(agent)
        return agent

    yield start
    for agent in running:
        await agent.daemon.stop()


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
