"""Browser fixtures: Debian's chromium driven by Playwright, and agents reachable at the URL
their QR codes print (public_url matches the real port)."""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright

from agent.config.loader import load_config
from agent.config.model import AgentConfig
from tests.browser.support import QUEUES

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


@pytest.fixture
def chromium() -> Path:
    """Debian's chromium: a failure in CI, a skip on a machine without it."""
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    return CHROMIUM


@pytest.fixture
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        instance = await playwright.chromium.launch(
            executable_path=str(chromium), args=CHROMIUM_ARGS
        )
        try:
            yield instance
        finally:
            await instance.close()


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
