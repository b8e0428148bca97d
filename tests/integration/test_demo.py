"""`retail-edge demo`, as the README tells people to run it: a real process with its private
broker, simulated devices and central service, checked through its public HTTP surface."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from simulators.mosquitto import free_port


def sample(metrics: str, name: str, **labels: str) -> float:
    """Sum of a Prometheus sample's values whose labels include ``labels``."""
    total = 0.0
    for line in metrics.splitlines():
        if not line.startswith(name):
            continue
        head, _, value = line.rpartition(" ")
        if all(f'{k}="{v}"' in head for k, v in labels.items()):
            total += float(value)
    return total


@pytest.mark.timeout(120)
def test_the_demo_shows_every_capability_and_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "agent",
            "demo",
            "--http-port",
            str(port),
            "--data-dir",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ | {"PYTHONUNBUFFERED": "1"},
    )
    base = f"http://127.0.0.1:{port}"
    wanted = {
        "tickets joined": ("retail_edge_queue_joins_total", {}),
        "phone recognised": ("retail_edge_readings_resolved_total", {"kind": "ble"}),
        "wallet pass at the camera": ("retail_edge_readings_resolved_total", {"kind": "qr"}),
        "strangers dropped": ("retail_edge_readings_dropped_total", {"kind": "ble"}),
        "door counts": ("retail_edge_footfall_people_total", {}),
        "events delivered": ("retail_edge_events_published_total", {}),
    }
    seen: dict[str, float] = {}
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(seen) < len(wanted):
            time.sleep(1)
            try:
                metrics = httpx.get(f"{base}/metrics", timeout=5).text
            except httpx.HTTPError:
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                continue
            for what, (name, labels) in wanted.items():
                value = sample(metrics, name, **labels)
                if value > 0:
                    seen[what] = value
        assert set(seen) == set(wanted), f"not seen within 60 s: {set(wanted) - set(seen)}"
        health = httpx.get(f"{base}/healthz", timeout=5).json()
        assert health["status"] == "ok" and health["mqtt"] == "connected"
        staff = httpx.get(f"{base}/staff", timeout=5)
        assert staff.status_code == 401 and "Pairing code" in staff.text
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "pairing code" in out and "Stopping..." in out
    assert "Traceback" not in err
