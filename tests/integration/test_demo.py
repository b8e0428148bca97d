"""`retail-edge demo`, as the README tells people to run it: a real process with its private
broker, simulated devices and central service, checked through its public HTTP surface."""

from __future__ import annotations

import json
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
    printed: list[str] = []
    try:
        assert process.stdout is not None
        while not printed or not printed[-1].startswith("Press Ctrl+C"):
            line = process.stdout.readline()
            assert line, f"the demo stopped: {process.stderr.read() if process.stderr else ''}"
            printed.append(line.strip())
        _printed_window_url_shows_a_code(base, printed)
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
        _a_walk_in_prints_on_the_demo_printer(base, printed, tmp_path)
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    out = "\n".join(printed) + out
    assert "pairing code" in out and "Stopping..." in out
    assert "Traceback" not in err
    # Routine lines come under the agent's own names; normal events look normal (a simulated
    # counter calling an empty queue gets 409, which is no reason for a log line).
    assert "uvicorn.error" not in err and "409 Conflict" not in err and " ERROR " not in err, err
    phones = next(line for line in printed if line.startswith("Phones:"))
    assert "listening on 127.0.0.1 only; run `retail-edge demo --lan`" in phones or (
        "no network route" in phones
    )


@pytest.mark.timeout(60)
def test_the_lan_demo_is_reached_at_the_printed_lan_address_and_logs_json(tmp_path: Path) -> None:
    from agent.demo import lan_address

    address = lan_address()
    if address is None:
        pytest.skip("this machine has no network route, so no LAN address")
    port = free_port()
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "agent", "--log-format", "json", "demo", "--lan"),
            *("--http-port", str(port), "--data-dir", str(tmp_path)),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ | {"PYTHONUNBUFFERED": "1"},
    )
    printed: list[str] = []
    try:
        assert process.stdout is not None
        while not printed or not printed[-1].startswith("Press Ctrl+C"):
            line = process.stdout.readline()
            assert line, f"the demo stopped: {process.stderr.read() if process.stderr else ''}"
            printed.append(line.strip())
        lan = f"http://{address}:{port}"
        assert next(line for line in printed if line.startswith("Staff tablet:")).split()[2] == (
            f"{lan}/staff"
        )
        phones = next(line for line in printed if line.startswith("Phones:"))
        assert phones.split()[1] == f"{lan}/" and "same Wi-Fi" in phones
        # Reached over the LAN address, not loopback: the agent listens on every interface.
        assert httpx.get(f"{lan}/healthz", timeout=5).json()["status"] == "ok"
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    records = [json.loads(line) for line in err.splitlines()]
    assert records, "no log lines"
    for record in records:
        assert {"ts", "level", "logger", "message"} <= set(record) and record["ts"].endswith("Z")
    assert any(
        r["logger"] == "agent.web.server" and r["message"] == f"HTTP listening on 0.0.0.0:{port}"
        for r in records
    ), records


def _printed_window_url_shows_a_code(base: str, printed: list[str]) -> None:
    """The window URL the demo prints pairs a screen (contract 8.1: the link's #pair=CODE,
    which window.js sends as the pairing form would) and then shows a standalone QR code of
    a join URL; unpaired, the same page shows no code."""
    line = next(text for text in printed if text.startswith("Window screen:"))
    url = line.split()[2]
    page, _, fragment = url.partition("#pair=")
    assert page == f"{base}/window/advice" and len(fragment) == 6, line
    assert "<svg" not in httpx.get(page, timeout=5).text
    with httpx.Client(base_url=base, timeout=5) as screen:
        paired = screen.post("/api/v1/pair", json={"code": fragment, "device_name": "window"})
        assert paired.status_code == 200, paired.text
        assert '<svg viewBox="0 0' in screen.get("/window/advice").text
        qr = screen.get("/window/advice/qr.svg")
        assert qr.status_code == 200 and 'xmlns="http://www.w3.org/2000/svg"' in qr.text


def _a_walk_in_prints_on_the_demo_printer(base: str, printed: list[str], data_dir: Path) -> None:
    """The manager tablet's code pairs a tablet that opens the manager view; its walk-in
    comes out of the simulated printer as paper in the data directory."""
    line = next(text for text in printed if text.startswith("Manager tablet:"))
    code = line.split("pairing code ")[1][:6]
    with httpx.Client(base_url=base, timeout=5) as tablet:
        paired = tablet.post("/api/v1/pair", json={"code": code, "device_name": "office"})
        headers = {"Authorization": f"Bearer {paired.json()['token']}"}
        assert tablet.get("/api/v1/manager/report?days=7", headers=headers).status_code == 200
        r = tablet.post("/api/v1/queues/advice/tickets", json={}, headers=headers)
        number = r.json()["ticket"]["number"]
    deadline = time.monotonic() + 10
    papers: list[str] = []
    while time.monotonic() < deadline and not papers:
        time.sleep(0.2)
        papers = [p.read_text() for p in (data_dir / "paper").glob("ticket-*.txt")]
    assert papers and f"\n{number}\n" in papers[-1] and "[QR code] http" in papers[-1], papers
