"""Queue joins over HTTP with durable commits, against a minimal app that is as durable.

The agent runs as its own process, as in a store; the load comes from `wrk` (Debian package)
over loopback with 16 connections, each POSTing joins back to back. A Python load generator
would measure itself: on this 2-core machine httpx tops out below the agent. The peer is a
minimal FastAPI/uvicorn app writing the same rows with the same durability (WAL,
`synchronous=FULL`, committed before the answer; `benchmarks/minimal_joins_app.py`), run the
same way and alternated with the agent. (Replaced in issue 17: the agent with
`synchronous=OFF`, whose ratio said nothing, an fsync costing 0.16 ms here.)
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
from benchmarks.common import JOINS_UNLIMITED, STORE_HEAD
from simulators.mosquitto import free_port

CONNECTIONS = 16
CONFIG = (
    STORE_HEAD
    + JOINS_UNLIMITED
    + """
[queues.pickup]
label = "Pick-up"
window_token = "static"
max_waiting = 10000
"""
)


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


def _wait_until_up(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    for _ in range(200):
        if process.poll() is not None:
            raise RuntimeError(log.read_text())
        try:
            httpx.get(f"{base}/healthz", timeout=1)  # any answer (the peer's is a 404) will do
        except httpx.HTTPError:
            time.sleep(0.05)
        else:
            return
    raise RuntimeError(f"{base} did not come up")


def measure(*, peer: bool, seconds: float) -> dict[str, float]:
    """The agent (``peer`` False) or the minimal FastAPI app, each in its own process."""
    with tempfile.TemporaryDirectory(prefix="bench-joins-") as tmp:
        port = free_port()
        db = Path(tmp) / "agent.db"
        config = Path(tmp) / "agent.toml"
        config.write_text(CONFIG.format(db=db, port=port))
        env = dict(os.environ)
        env.pop(NO_FSYNC_ENV, None)
        if peer:
            command = [sys.executable, "-m", "benchmarks.minimal_joins_app", str(port), str(db)]
        else:
            command = [
                sys.executable,
                "-m",
                "agent",
                "--log-level",
                "ERROR",
                "run",
                "-c",
                str(config),
            ]
        log_path = Path(tmp) / "server.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(command, stdout=log, stderr=log, env=env)
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_until_up(base, process, log_path)
            token = "-"  # noqa: S105 - the peer checks no window token
            if not peer:
                database = Database.open(db, store_id="bench-01", exclusive=False)
                token = WindowTokens(window_secret(database)).static("pickup", 1)
                database.close()
            return _wrk(
                f"{base}/api/v1/queues/pickup/tickets", f'{{"window_token": "{token}"}}', seconds
            )
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=15)


def _median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def run(quick: bool) -> list[dict[str, object]]:
    if shutil.which("wrk") is None:
        raise RuntimeError("the joins benchmark needs wrk (apt-get install wrk; ./dev does it)")
    seconds = 2.0 if quick else 5.0
    rounds = 1 if quick else 3
    ours: list[dict[str, float]] = []
    peers: list[dict[str, float]] = []
    for _ in range(rounds):  # alternated: the machine's load of the moment falls on both
        ours.append(measure(peer=False, seconds=seconds))
        peers.append(measure(peer=True, seconds=seconds))
    ours_p99 = ", ".join(f"{r['p99']:.1f}" for r in ours)
    peer_p99 = ", ".join(f"{r['p99']:.1f}" for r in peers)
    errors = f"{sum(r['errors'] for r in ours):.0f} / {sum(r['errors'] for r in peers):.0f}"
    note = (
        f"wrk, {CONNECTIONS} connections over loopback, {seconds:.0f} s x {rounds} alternated"
        f" rounds, each server in its own process, WAL + synchronous=FULL on both; non-2xx:"
        f" {errors}; p99 per round: ours"
        f" {ours_p99}, peer {peer_p99} ms"
    )
    return [
        {
            "name": "queue joins over HTTP, durable",
            "ours": round(_median([r["rate"] for r in ours])),
            "baseline": round(_median([r["rate"] for r in peers])),
            "unit": "joins/s (baseline: a minimal FastAPI/uvicorn app writing the ticket and"
            " outbox rows, one fsync per join; benchmarks/minimal_joins_app.py)",
            "target": ">= 0.9x the peer",
            "note": note,
        },
        {
            "name": "queue join latency p50 / p99, durable",
            "ours": f"{_median([r['p50'] for r in ours]):.1f} / {max(r['p99'] for r in ours):.1f}",
            "baseline": f"{_median([r['p50'] for r in peers]):.1f} / "
            f"{max(r['p99'] for r in peers):.1f}",
            "unit": "ms, median p50 / worst p99 of the rounds (baseline: the minimal app)",
            "target": "p99 < 50 ms in every round",
            "note": note,
        },
    ]


if __name__ == "__main__":
    for figure in run(quick="--quick" in sys.argv):
        print(figure)
