"""Staff "call next" and "call this ticket" latency with 10 / 100 / 1,000 tickets waiting,
through the daemon's real HTTP path, against the bare SQLite update of the same rows.

The agent runs as its own process, as in a store (durable commits), with one tablet's staff
stream open, so every call also builds and sends the queue's staff view, as it does in a
store with a tablet watching. Each call is one request from a Python client over loopback,
one at a time (a counter presses the button, waits for the answer): the latency a person at
the tablet sees, less the network. After each timed call the called ticket is served and a
walk-in added (untimed), so the queue stays at its size. The floor: the same rows (a tickets
table of the agent's own schema with N waiting rows) updated to `called` and committed with
`synchronous=FULL`, alone, in this process: what the state change costs with no HTTP, no
decision, no view.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from agent import tools
from agent.config.loader import load_config
from agent.core.queue import Ticket, TicketState
from agent.store.database import Database
from agent.store.tickets import TicketRepository
from benchmarks.common import STORE_HEAD, Figure, figure, percentile
from simulators.mosquitto import free_port

CONFIG = (
    STORE_HEAD
    + """
[queues.advice]
label = "Advice"
window_token = "static"
max_waiting = 5000
servers = 2
"""
)
SIZES = (10, 100, 1000)
QUICK_SIZES = (10, 100)  # CI's quick run: that it works, not the curve


async def _seed(client: httpx.AsyncClient, staff: dict[str, str], count: int) -> None:
    for start in range(0, count, 50):
        batch = [
            client.post("/api/v1/queues/advice/tickets", json={"name": "x"}, headers=staff)
            for _ in range(min(50, count - start))
        ]
        for response in await asyncio.gather(*batch):
            response.raise_for_status()


async def _watch(base: str, staff: dict[str, str], frames: list[int]) -> None:
    """One tablet's staff stream, read to the end (counting frames)."""
    async with (
        httpx.AsyncClient(base_url=base, timeout=httpx.Timeout(30, read=None)) as client,
        client.stream("GET", "/api/v1/staff/stream", headers=staff) as response,
    ):
        # Counted on the raw bytes: parsing a 1000-ticket frame line by line in Python would
        # slow this process's own timed requests down, and that is not the agent's cost.
        tail = b""
        async for chunk in response.aiter_raw():
            data = tail + chunk
            frames[0] += data.count(b"event: queue\n")
            tail = data[-16:]
            frames[0] -= tail.count(b"event: queue\n")


async def _measure_http(
    base: str, config_path: Path, rounds: int, sizes: tuple[int, ...]
) -> dict[int, dict[str, list[float]]]:
    config = load_config(config_path)
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        code = tools.pairing_code(config, "bench-tablet")
        token = (await client.post("/api/v1/pair", json={"code": code, "device_name": "b"})).json()
        staff = {"Authorization": f"Bearer {token['token']}"}
        waiting = 0
        results: dict[int, dict[str, list[float]]] = {}
        for size in sizes:
            # Seeded with no tablet watching (a burst of joins would make a watching tablet
            # lag and be cut off, after which calls would build no view at all).
            await _seed(client, staff, size - waiting)
            waiting = size
            if size == sizes[-1] and len(sizes) == len(SIZES):
                # The largest size once more with no tablet watching: what the call costs
                # without building and sending the staff view.
                results[-size] = await _calls(client, staff, rounds)
            frames = [0]
            watcher = asyncio.create_task(_watch(base, staff, frames))
            try:
                while frames[0] == 0:  # the stream's first picture of the queue
                    await asyncio.sleep(0.05)
                timings = await _calls(client, staff, rounds)
                await asyncio.sleep(0.5)
                # The tablet was sent the changes (coalesced: one frame may carry several)
                # and its stream is still open: it never lagged behind and was cut off.
                if watcher.done() or frames[0] < 2:
                    raise RuntimeError(f"the tablet's stream fell behind ({frames[0]} frames)")
            finally:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
                    await watcher
            results[size] = timings
        return results


async def _calls(
    client: httpx.AsyncClient, staff: dict[str, str], rounds: int
) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {"next": [], "this": []}
    for n in range(rounds):
        kind = "next" if n % 2 == 0 else "this"
        if kind == "this":
            view = (await client.get("/api/v1/queues/advice", headers=staff)).json()
            target = view["waiting"][len(view["waiting"]) // 2]["id"]
            url = f"/api/v1/tickets/{target}/call"
        else:
            url = "/api/v1/queues/advice/call-next"
        started = time.perf_counter()
        called = await client.post(url, headers=staff)
        timings[kind].append((time.perf_counter() - started) * 1000)
        called.raise_for_status()
        served = await client.post(f"/api/v1/tickets/{called.json()['id']}/served", headers=staff)
        served.raise_for_status()
        await _seed(client, staff, 1)
    return timings


def _measure_sqlite(size: int, rounds: int) -> list[float]:
    """The floor: the same rows' state change, committed durably, nothing else."""
    with tempfile.TemporaryDirectory(prefix="bench-call-sql-") as tmp:
        database = Database.open(Path(tmp) / "floor.db", store_id="bench-01", exclusive=False)
        repo = TicketRepository(database)
        now = datetime.now(UTC)
        with database.atomic():
            for n in range(size):
                repo.save(
                    Ticket(
                        id=secrets.token_urlsafe(9), queue="advice", number=n + 1,
                        state=TicketState.WAITING, sort_key=1024.0 * n, created_at=now,
                        secret_hash="",
                    )
                )  # fmt: skip
        ids = [str(r[0]) for r in database.conn.execute("SELECT id FROM tickets").fetchall()]
        timings = []
        for n in range(rounds):
            started = time.perf_counter()
            with database.atomic():
                database.conn.execute(
                    "UPDATE tickets SET state = 'called', called_at = ? WHERE id = ?",
                    (now.isoformat(), ids[n % len(ids)]),
                )
            timings.append((time.perf_counter() - started) * 1000)
        database.close()
        return timings


def run(quick: bool) -> list[Figure]:
    rounds = 6 if quick else 120
    sizes = QUICK_SIZES if quick else SIZES
    with tempfile.TemporaryDirectory(prefix="bench-call-") as tmp:
        port = free_port()
        config = Path(tmp) / "agent.toml"
        config.write_text(CONFIG.format(db=Path(tmp) / "agent.db", port=port))
        with (Path(tmp) / "agent.log").open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "agent", "--log-level", "ERROR", "run", "-c", str(config)],
                stdout=log, stderr=log,
            )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(200):
                if process.poll() is not None:
                    raise RuntimeError((Path(tmp) / "agent.log").read_text())
                try:
                    httpx.get(f"{base}/healthz", timeout=1)
                    break
                except httpx.HTTPError:
                    time.sleep(0.05)
            http = asyncio.run(_measure_http(base, config, rounds, sizes))
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=15)
    figures = []
    for size in sizes:
        floor = _measure_sqlite(size, rounds)
        for kind, label in (("next", "call-next"), ("this", "call this ticket")):
            timing = http[size][kind]
            figures.append(
                figure(
                    f"{label}, {size} waiting: p50 / p99",
                    f"{percentile(timing, 0.5):.1f} / {percentile(timing, 0.99):.1f}",
                    f"{percentile(floor, 0.5):.1f} / {percentile(floor, 0.99):.1f}",
                    "ms (baseline: the bare SQLite update of the row, synchronous=FULL)",
                    "p99 < 100 ms",
                    f"{len(timing)} calls, one at a time over loopback, agent in its own "
                    "process, one tablet's staff stream open",
                )
            )
    if -SIZES[-1] in http:
        timing = http[-SIZES[-1]]["next"] + http[-SIZES[-1]]["this"]
        figures.append(
            figure(
                f"call (next and this), {SIZES[-1]} waiting, no tablet watching: p50 / p99",
                f"{percentile(timing, 0.5):.1f} / {percentile(timing, 0.99):.1f}",
                f"{percentile(floor, 0.5):.1f} / {percentile(floor, 0.99):.1f}",
                "ms (baseline: the bare SQLite update of the row, synchronous=FULL)",
                "-",
                "the rest of the curve's cost is the tablet's view of the queue (built per change)",
            )
        )
    return figures


if __name__ == "__main__":
    for item in run(quick="--quick" in sys.argv):
        print(item)
