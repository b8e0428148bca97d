"""The console script as an operator uses it: real processes, real broker, real signals."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from simulators.mosquitto import MosquittoBroker, free_port
from tests.integration.test_sync import retained

CLI = [sys.executable, "-m", "agent"]


def cli(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout)


def write_run_config(tmp_path: Path, mqtt_url: str | None, port: int) -> Path:
    text = f"""
[store]
id = "cli-01"
name = "CLI store"
timezone = "UTC"
[storage]
path = "{tmp_path / "agent.db"}"
[http]
bind = "127.0.0.1"
port = {port}
public_url = "http://127.0.0.1:{port}"
"""
    if mqtt_url:
        text += f'[mqtt]\nurl = "{mqtt_url}"\nkeepalive_s = 5\n'
    path = tmp_path / "agent.toml"
    path.write_text(text)
    return path


class AgentProcess:
    def __init__(self, config: Path, port: int) -> None:
        self.port = port
        self.log = config.with_name(f"agent-{time.monotonic_ns()}.log")
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [*CLI, "run", "-c", str(config)], stdout=log, stderr=log
            )

    def wait_healthy(self, timeout: float = 15) -> dict[str, object]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"agent exited: {self.log.read_text()}")
            try:
                return dict(httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1).json())
            except httpx.HTTPError:
                time.sleep(0.05)
        raise AssertionError("agent never became healthy")


@pytest.fixture
def agent_process(tmp_path: Path) -> Iterator[list[AgentProcess]]:
    started: list[AgentProcess] = []
    yield started
    for agent in started:
        if agent.process.poll() is None:
            agent.process.kill()
        agent.process.wait()


def test_version_and_help() -> None:
    assert cli("--version").stdout.startswith("retail-edge ")
    assert cli("--help").returncode == 0


def test_check_config_ok_and_bad(tmp_path: Path) -> None:
    good = write_run_config(tmp_path, None, 8080)
    result = cli("check-config", str(good))
    assert result.returncode == 0 and "OK" in result.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text(good.read_text().replace('id = "cli-01"', 'id = "NO"') + "\n[mqtt]\nurl = 3\n")
    result = cli("check-config", str(bad))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines == [
        f"{bad}: store.id: must match [a-z0-9-]{{1,64}}, got 'NO'",
        f"{bad}: mqtt.url: must be a string, got int 3",
    ]
    assert "Traceback" not in result.stderr


def test_errors_are_one_line_without_traceback(tmp_path: Path) -> None:
    result = cli("run", "-c", str(tmp_path / "missing.toml"))
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0 and "cannot read" in result.stderr
    assert cli("demo", "--http-port", "99999").stderr.startswith("retail-edge: error:")


def test_run_serves_health_and_stops_cleanly_on_sigterm(
    tmp_path: Path, broker: MosquittoBroker, agent_process: list[AgentProcess]
) -> None:
    port = free_port()
    agent = AgentProcess(write_run_config(tmp_path, broker.url, port), port)
    agent_process.append(agent)
    health = agent.wait_healthy()
    assert set(health) == {"status", "mqtt", "outbox"} and health["status"] == "ok"
    deadline = time.monotonic() + 10
    while health["mqtt"] != "connected" and time.monotonic() < deadline:
        time.sleep(0.05)
        health = agent.wait_healthy()
    assert health["mqtt"] == "connected"
    metrics = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    for name in (
        "retail_edge_outbox_depth",
        "retail_edge_events_published_total",
        "retail_edge_mqtt_connected",
        "retail_edge_malformed_inputs_dropped",
    ):
        assert name in metrics
    agent.process.send_signal(signal.SIGTERM)
    assert agent.process.wait(timeout=15) == 0
    status = asyncio.run(retained(broker, "retail/v1/stores/cli-01/status"))
    assert status["state"] == "offline"
    # The lock went with the process: a new agent may start on the same database.
    again = AgentProcess(tmp_path / "agent.toml", port)
    agent_process.append(again)
    again.wait_healthy()


def test_kill_9_leaves_the_last_will(
    tmp_path: Path, broker: MosquittoBroker, agent_process: list[AgentProcess]
) -> None:
    port = free_port()
    agent = AgentProcess(write_run_config(tmp_path, broker.url, port), port)
    agent_process.append(agent)
    agent.wait_healthy()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if asyncio.run(retained(broker, "retail/v1/stores/cli-01/status"))["state"] == "online":
            break
        time.sleep(0.1)
    os.kill(agent.process.pid, signal.SIGKILL)
    agent.process.wait()
    deadline = time.monotonic() + 10
    state = "online"
    while state != "offline" and time.monotonic() < deadline:
        state = str(asyncio.run(retained(broker, "retail/v1/stores/cli-01/status"))["state"])
        time.sleep(0.1)
    assert state == "offline"


def test_second_agent_on_the_same_database_is_refused(
    tmp_path: Path, agent_process: list[AgentProcess]
) -> None:
    port = free_port()
    config = write_run_config(tmp_path, None, port)
    first = AgentProcess(config, port)
    agent_process.append(first)
    assert first.wait_healthy()["mqtt"] == "disabled"
    result = cli("run", "-c", str(config))
    assert result.returncode == 1
    assert "already used by another retail-edge agent" in result.stderr
    assert result.stderr.strip().count("\n") == 0


def test_outbox_survives_a_restart_without_a_broker(
    tmp_path: Path, agent_process: list[AgentProcess]
) -> None:
    port = free_port()
    config = write_run_config(tmp_path, "mqtt://127.0.0.1:1", port)  # nothing listens there
    for expected in (1, 2):
        agent = AgentProcess(config, port)
        agent_process.append(agent)
        health = agent.wait_healthy()
        assert health["mqtt"] == "disconnected" and health["outbox"] == expected
        agent.process.send_signal(signal.SIGTERM)
        assert agent.process.wait(timeout=15) == 0
    rows = json.loads(json.dumps(health))
    assert rows["outbox"] == 2
