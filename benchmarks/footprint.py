"""The agent as a process: start-up time to healthy, RSS idle, after a busy hour, after a
100k-event backlog. Baseline: the interpreter with the agent's imports alone."""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from benchmarks.common import STORE_HEAD, Figure, figure, rss_mb
from simulators.mosquitto import free_port

CONFIG = (
    STORE_HEAD
    + """
[mqtt]
url = "mqtt://127.0.0.1:1"
[queues.advice]
label = "Advice"
"""
)


def _start(config: Path, port: int) -> tuple[subprocess.Popen[bytes], float]:
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "agent", "--log-level", "ERROR", "run", "-c", str(config)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=0.5)
            return process, time.perf_counter() - started
        except httpx.HTTPError:
            time.sleep(0.01)


def _backlog(db: Path, events: int) -> None:
    code = (
        "import sys; from pathlib import Path\n"
        "from agent.core.clock import SystemClock\nfrom agent.core.events import PrivacyErased\n"
        "from agent.store.database import Database\nfrom agent.store.outbox import Outbox\n"
        f"db = Database.open(Path({str(db)!r}), store_id='bench-01')\n"
        "o = Outbox(db, 'bench-01', SystemClock())\n"
        f"for s in range(0, {events}, 5000):\n"
        "    with db.atomic(): o.append([PrivacyErased('c', 0)] * 5000)\n"
        "db.close()\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def run(quick: bool) -> list[Figure]:
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import agent.daemon, agent.bootstrap"], check=True)
        import_s = time.perf_counter() - started
        baseline_rss = float(subprocess.run(
            [sys.executable, "-c", "import agent.daemon, agent.bootstrap, sys;"
             "print(int(open('/proc/self/status').read().split('VmRSS:')[1].split()[0]) / 1024)"],
            capture_output=True, text=True, check=True,
        ).stdout)  # fmt: skip
        port = free_port()
        db = Path(tmp) / "agent.db"
        config = Path(tmp) / "agent.toml"
        config.write_text(CONFIG.format(db=db, port=port))
        process, startup_s = _start(config, port)
        time.sleep(1.0)
        idle = rss_mb(process.pid)
        base = f"http://127.0.0.1:{port}"
        # A busy hour of the queue compressed: joins and reads.
        with httpx.Client(base_url=base) as client:
            for _ in range(200 if quick else 2000):
                client.get("/api/v1/queues/advice/summary")
                client.get("/healthz")
        busy = rss_mb(process.pid)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)
        _backlog(db, 10_000 if quick else 100_000)
        process, _ = _start(config, port)
        time.sleep(1.0)
        backlog = rss_mb(process.pid)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)
    return [
        figure(
            "start-up to healthy",
            round(startup_s, 2),
            round(import_s, 2),
            "s (baseline: python -c 'import agent.daemon')",
            "< 3 s",
            "broker unreachable, so no wait for it",
        ),
        figure(
            "agent RSS idle / busy / with backlog",
            f"{idle:.0f} / {busy:.0f} / {backlog:.0f}",
            f"{baseline_rss:.0f}",
            "MB (baseline: interpreter + imports)",
            "< 120 MB, flat",
            f"backlog: {'10k' if quick else '100k'} events in the outbox",
        ),
    ]


if __name__ == "__main__":
    for f in run(quick="--quick" in sys.argv):
        print(f)
