"""Run the real agent as a process, load it with joins, kill it, and check what survived."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from agent.core.window_token import WindowTokens
from agent.store.database import Database
from agent.store.secrets import window_secret
from simulators.mosquitto import free_port

CONFIG = """
[store]
id = "crash-01"
name = "Crash test store"
timezone = "UTC"
[storage]
path = "{db}"
[http]
bind = "127.0.0.1"
port = {port}
public_url = "http://127.0.0.1:{port}"
joins_per_client = 1000
join_window_s = 10
joins_per_token_per_minute = 10000
[mqtt]
url = "{mqtt_url}"
keepalive_s = 5
[queues.pickup]
label = "Pick-up"
window_token = "static"
max_waiting = 10000
"""


@dataclass
class Acknowledged:
    ticket_id: str
    secret: str
    number: int


@dataclass
class CrashHarness:
    workdir: Path
    mqtt_url: str
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    acknowledged: list[Acknowledged] = field(default_factory=list)
    kills: int = 0

    def __post_init__(self) -> None:
        self.db = self.workdir / "agent.db"
        self.config = self.workdir / "agent.toml"
        self.config.write_text(
            CONFIG.format(db=self.db, port=self.port, mqtt_url=self.mqtt_url), encoding="utf-8"
        )
        self.base_url = f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        log = (self.workdir / "agent.log").open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "agent",
                "--log-level",
                "WARNING",
                "run",
                "-c",
                str(self.config),
            ],
            stdout=log,
            stderr=log,
        )
        log.close()

    async def wait_healthy(self, timeout: float = 20) -> dict[str, object]:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(base_url=self.base_url, timeout=1) as client:
            while time.monotonic() < deadline:
                assert self.process is not None and self.process.poll() is None, self.log_tail()
                try:
                    return dict((await client.get("/healthz")).json())
                except httpx.HTTPError:
                    await asyncio.sleep(0.02)
        raise AssertionError(f"agent not healthy: {self.log_tail()}")

    def kill(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self.process = None
        self.kills += 1

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=15)
        self.process = None

    def sticker_token(self) -> str:
        database = Database.open(self.db, store_id="crash-01", exclusive=False)
        try:
            return WindowTokens(window_secret(database)).static("pickup", 1)
        finally:
            database.close()

    async def load(
        self, token: str, stop: asyncio.Event, concurrency: int = 8, pause_s: float = 0.0
    ) -> None:
        """Join as fast as the agent allows (or with ``pause_s`` between one worker's joins);
        keep what got a 201 (acknowledged tickets)."""

        async def worker(client: httpx.AsyncClient) -> None:
            while not stop.is_set():
                try:
                    response = await client.post(
                        "/api/v1/queues/pickup/tickets", json={"window_token": token}
                    )
                except httpx.HTTPError:
                    await asyncio.sleep(0.01)  # the agent is down or restarting
                    continue
                if response.status_code == 201:
                    body = response.json()
                    ticket = body["ticket"]
                    self.acknowledged.append(
                        Acknowledged(ticket["id"], body["secret"], ticket["number"])
                    )
                if pause_s:
                    await asyncio.sleep(pause_s)

        async with httpx.AsyncClient(base_url=self.base_url, timeout=5) as client:
            await asyncio.gather(*(worker(client) for _ in range(concurrency)))

    def log_tail(self) -> str:
        path = self.workdir / "agent.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""
