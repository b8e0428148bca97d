"""Queue joins over HTTP with durable commits, against the same joins without fsync.

The agent runs as its own process, as in a store; the load comes from `wrk` (Debian package)
over loopback with 16 connections, each POSTing joins back to back. A Python load generator
would measure itself: on this 2-core machine httpx tops out below the agent. Same machine,
same run, so the durable/no-fsync ratio is meaningful even when absolute figures are noisy.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from agent.core.window_token import WindowTokens
from agent.store.database import NO_FSYNC_ENV, Database
from agent.store.secrets import window_secret
from simulators.mosquitto import free_port

CONNECTIONS = 16
CONFIG = """
[store]
id = "bench-01"
name = "Bench"
timezone = "UTC"
[storage]
path = "{db}"
[http]
bind = "127.0.0.1"
port = {port}
public_url = "http://127.0.0.1:{port}"
joins_per_client = 1000000
join_window_s = 10
joins_per_token_per_minute = 10000
[queues.pickup]
label = "Pick-up"
window_token = "static"
max_waiting = 10000
"""


UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    """wrk's latency text ("812.00us", "10.13ms", "1.02s") in milliseconds."""
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if match is None:
        raise ValueError(f"unexpected wrk latency {text!r}")
    return float(match[1]) * UNIT_MS[match[2]]


def _wrk(url: str, body: str, seconds: float) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(
            f"wrk.method = \"POST\"\nwrk.body = '{body}'\n"
            'wrk.headers["Content-Type"] = "application/json"\n'
        )
    try:
        out = subprocess.run(
            ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds:.0f}s", "--latency", "-s", script.name, url],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
    finally:
        Path(script.name).unlink()
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    # Anchored to the start of a line: the thread-stats line ends in a percentage such as
    # "95.50%", which an unanchored "50%" would match.
    p50 = re.search(r"^\s*50%\s+(\S+)", out, re.M).group(1)  # type: ignore[union-attr]
    p99 = re.search(r"^\s*99%\s+(\S+)", out, re.M).group(1)  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {
        "rate": rate,
        "p50": _ms(p50),
        "p99": _ms(p99),
        "errors": float(bad.group(1)) if bad else 0.0,
    }


def measure(*, durable: bool, seconds: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-joins-") as tmp:
        port = free_port()
        db = Path(tmp) / "agent.db"
        config = Path(tmp) / "agent.toml"
        config.write_text(CONFIG.format(db=db, port=port))
        env = dict(os.environ)
        env.pop(NO_FSYNC_ENV, None)
        if not durable:
            env[NO_FSYNC_ENV] = "1"
        with (Path(tmp) / "agent.log").open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "agent", "--log-level", "ERROR", "run", "-c", str(config)],
                stdout=log, stderr=log, env=env,
            )  # fmt: skip
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(200):
                if process.poll() is not None:
                    raise RuntimeError((Path(tmp) / "agent.log").read_text())
                try:
                    httpx.get(f"{base}/healthz", timeout=1)
                    break
                except httpx.HTTPError:
                    time.sleep(0.05)
            database = Database.open(db, store_id="bench-01", exclusive=False)
            token = WindowTokens(window_secret(database)).static("pickup", 1)
            database.close()
            return _wrk(
                f"{base}/api/v1/queues/pickup/tickets", f'{{"window_token": "{token}"}}', seconds
            )
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=15)


def run(quick: bool) -> list[dict[str, object]]:
    if shutil.which("wrk") is None:
        raise RuntimeError("the joins benchmark needs wrk (apt-get install wrk; ./dev does it)")
    seconds = 2.0 if quick else 5.0
    durable = measure(durable=True, seconds=seconds)
    no_fsync = measure(durable=False, seconds=seconds)
    note = (
        f"wrk, {CONNECTIONS} connections over loopback, {seconds:.0f} s, agent in its own "
        f"process; non-2xx: {durable['errors']:.0f} / {no_fsync['errors']:.0f}"
    )
    return [
        {
            "name": "queue joins over HTTP, durable",
            "ours": round(durable["rate"]),
            "baseline": round(no_fsync["rate"]),
            "unit": "joins/s (baseline: same joins with synchronous=OFF)",
            "target": ">= 500/s",
            "note": note,
        },
        {
            "name": "queue join latency p50 / p99, durable",
            "ours": f"{durable['p50']:.1f} / {durable['p99']:.1f}",
            "baseline": f"{no_fsync['p50']:.1f} / {no_fsync['p99']:.1f}",
            "unit": "ms (baseline: synchronous=OFF)",
            "target": "p99 < 50 ms",
            "note": note,
        },
    ]


if __name__ == "__main__":
    for figure in run(quick="--quick" in sys.argv):
        print(figure)
