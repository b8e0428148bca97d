"""Shared fixtures: a private mosquitto per test, config files, a running agent."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from agent.core.clock import ManualClock
from simulators.central import CentralService
from simulators.mosquitto import MosquittoBroker
from tests.helpers import AgentStarter, running_central, started_agents

# These machines are shared and noisy: timing-based health checks would make tests flaky
# without saying anything about the code under test.
settings.register_profile(
    "retail-edge", deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=200
)
settings.load_profile("retail-edge")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--hardware", action="store_true", help="run tests that need real devices")
    parser.addoption("--long", action="store_true", help="run the long-form reliability suites")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "hardware" in item.keywords and not config.getoption("--hardware"):
            item.add_marker(pytest.mark.skip(reason="needs real hardware (--hardware)"))
        if "slow" in item.keywords and not config.getoption("--long"):
            item.add_marker(pytest.mark.skip(reason="long form only (--long)"))


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[MosquittoBroker]:
    workdir = tmp_path / "mosquitto"
    workdir.mkdir()
    instance = MosquittoBroker(workdir=workdir)
    instance.start()
    try:
        yield instance
    finally:
        instance.close()


ConfigWriter = Callable[..., Path]


@pytest.fixture
def write_config(tmp_path: Path) -> ConfigWriter:
    """Write a valid config file; keyword arguments override or add TOML sections."""

    def write(mqtt_url: str | None = None, extra: str = "", **mqtt_keys: Any) -> Path:
        lines = [
            "[store]",
            'id = "test-01"',
            'name = "Test store"',
            'timezone = "Europe/Paris"',
            "[storage]",
            f'path = "{tmp_path / "data" / "agent.db"}"',
            "[http]",
            'bind = "127.0.0.1"',
            "port = 0",
            'public_url = "http://127.0.0.1:8080"',
        ]
        if mqtt_url is not None:
            lines += ["[mqtt]", f'url = "{mqtt_url}"', 'topic_prefix = "retail/v1"']
            lines += [f"{key} = {value!r}" for key, value in mqtt_keys.items()]
        path = tmp_path / "agent.toml"
        path.write_text("\n".join(lines) + "\n" + extra, encoding="utf-8")
        return path

    return write


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def start_agent() -> AsyncIterator[AgentStarter]:
    """Build and start agents; every one started is stopped at the end of the test."""
    async with started_agents() as start:
        yield start


@pytest.fixture
async def central(broker: MosquittoBroker) -> AsyncIterator[CentralService]:
    async with running_central(broker.url) as service:
        yield service
