"""Browser fixtures: Debian's chromium driven by Playwright, and agents reachable at the URL
their QR codes print (public_url matches the real port).

One chromium serves every browser test (launching Playwright and chromium per test cost ~0.8 s
each). A test still gets a browser with no context open, and the contexts it opened are closed
after it, so no page, cookie or service worker reaches the next test. Playwright's objects
belong to the event loop they were made in, so the async tests here and the async fixtures
they use run in pytest-asyncio's session loop (`loop_scope="session"`); a task a test leaves
running is cancelled after it, as closing a per-test loop would have done.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Playwright, async_playwright
from pytest_asyncio import is_async_test

from agent.config.loader import load_config
from agent.config.model import AgentConfig
from simulators.central import CentralService
from simulators.mosquitto import MosquittoBroker
from tests.browser.support import QUEUES
from tests.helpers import AgentStarter, running_central, started_agents

HERE = Path(__file__).resolve().parent

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The loop every fixture below runs in; append=False puts this mark before the one
    # asyncio_mode = "auto" added, so it is the one pytest-asyncio reads.
    session_loop = pytest.mark.asyncio(loop_scope="session")
    for item in items:
        if is_async_test(item) and item.path.is_relative_to(HERE):
            item.add_marker(session_loop, append=False)


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's chromium: a failure in CI, a skip on a machine without it."""
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    return CHROMIUM


class SharedChromium:
    """The session's chromium, launched on first use and again if it ever went away (a crash
    in one test must not fail every later one)."""

    def __init__(self, playwright: Playwright, executable: Path) -> None:
        self._playwright = playwright
        self._executable = executable
        self._browser: Browser | None = None

    async def get(self) -> Browser:
        if self._browser is None or not self._browser.is_connected():
            self._browser = await self._playwright.chromium.launch(
                executable_path=str(self._executable), args=CHROMIUM_ARGS
            )
        return self._browser

    async def close(self) -> None:
        if self._browser is not None and self._browser.is_connected():
            await self._browser.close()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def shared_chromium(chromium: Path) -> AsyncIterator[SharedChromium]:
    async with async_playwright() as playwright:
        shared = SharedChromium(playwright, chromium)
        try:
            yield shared
        finally:
            await shared.close()


@pytest_asyncio.fixture(loop_scope="session")
async def browser(shared_chromium: SharedChromium) -> AsyncIterator[Browser]:
    instance = await shared_chromium.get()
    assert instance.contexts == [], "a context of an earlier test is still open"
    try:
        yield instance
    finally:
        # A test that failed half-way did not reach its own context.close().
        for context in instance.contexts:
            await context.close()


@pytest_asyncio.fixture(loop_scope="session", autouse=True)
async def _no_task_outlives_its_test() -> AsyncIterator[None]:
    # Set up before, so torn down after, every other fixture of the test (agents stopped,
    # contexts closed): what is still pending then was left behind by the test.
    before = asyncio.all_tasks()
    yield
    current = asyncio.current_task()
    left = [t for t in asyncio.all_tasks() - before if t is not current and not t.done()]
    for task in left:
        task.cancel()
    await asyncio.gather(*left, return_exceptions=True)


# The root conftest's fixtures of the same names, run in the session loop (see the top).
@pytest_asyncio.fixture(loop_scope="session")
async def start_agent() -> AsyncIterator[AgentStarter]:
    """Build and start agents; every one started is stopped at the end of the test."""
    async with started_agents() as start:
        yield start


@pytest_asyncio.fixture(loop_scope="session")
async def central(broker: MosquittoBroker) -> AsyncIterator[CentralService]:
    async with running_central(broker.url) as service:
        yield service


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


BrowserConfig = Callable[..., AgentConfig]


@pytest.fixture
def browser_config(write_config: Callable[..., Path]) -> BrowserConfig:
    """A config with the advice (rotating) and pickup (static) queues, on a fixed free port so
    the window QR code's URL (public_url) reaches this very agent."""

    def make(*, max_waiting: int = 200, extra: str = "") -> AgentConfig:
        port = _free_port()
        path = write_config(None, extra=QUEUES.format(max_waiting=max_waiting) + extra)
        text = path.read_text(encoding="utf-8")
        text = text.replace("port = 0", f"port = {port}", 1).replace(
            'public_url = "http://127.0.0.1:8080"', f'public_url = "http://127.0.0.1:{port}"', 1
        )
        path.write_text(text, encoding="utf-8")
        return load_config(path)

    return make
