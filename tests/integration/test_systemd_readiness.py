"""`retail-edge run` as systemd runs it (Type=notify, WatchdogSec): a real agent process told
where systemd's notify socket is, and a real unix datagram socket reading what it says."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx

from simulators.mosquitto import free_port
from tests.integration.test_cli import CLI, write_run_config


def _read_until(sock: socket.socket, wanted: str, timeout: float) -> list[str]:
    """Datagrams received until one equals ``wanted`` (or the timeout)."""
    got: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            got.append(sock.recv(4096).decode())
        except TimeoutError:
            break
        if got[-1] == wanted:
            break
    return got


def test_ready_after_http_serves_watchdog_pings_and_stopping(tmp_path: Path) -> None:
    port = free_port()
    config = write_run_config(tmp_path, None, port)
    address = tmp_path / "notify"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(address))
    env = dict(os.environ, NOTIFY_SOCKET=str(address), WATCHDOG_USEC="400000")
    env.pop("WATCHDOG_PID", None)
    log = (tmp_path / "agent.log").open("wb")
    process = subprocess.Popen([*CLI, "run", "-c", str(config)], stdout=log, stderr=log, env=env)
    try:
        ready = _read_until(sock, "READY=1", timeout=20)
        assert ready and ready[-1] == "READY=1", (tmp_path / "agent.log").read_text()
        # Ready means serving: /healthz answers at once, without a retry loop.
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
        pings = _read_until(sock, "never", timeout=1.5)
        # WATCHDOG_USEC 0.4 s: a ping every 0.2 s while the store thread answers.
        assert pings.count("WATCHDOG=1") >= 4, pings
        process.send_signal(signal.SIGTERM)
        assert "STOPPING=1" in _read_until(sock, "STOPPING=1", timeout=10)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        log.close()
        sock.close()
