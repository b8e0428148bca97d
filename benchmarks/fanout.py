"""Fan-out: a staff call-next while 500 phones watch their tickets and 10 tablets the queue.

The agent runs as its own process (`retail-edge run`), as in a store. 500 waiting tickets
each have their page's event stream open (`GET /api/v1/tickets/{id}/stream`) and 10 paired
tablets their staff stream; the clients are plain sockets in this process that only count
frames, so they cost the agent's process nothing. For each call (`POST .../call-next` over
HTTP, its durable commit included) the figure is the time until the last of the 510 streams
has received its frame: every waiting ticket moves up one place, so every phone gets one,
and every tablet gets the queue's new view. Also the call's own answer (the HTTP round trip
with the commit) and the server process's CPU time per call (from the call until the last
frame, `/proc/PID/stat`): on a shared machine the wall-clock figures move by 2x between runs,
the CPU a server spends on a call much less.

Peer, in alternated rounds of the same run: a minimal FastAPI app with the same streams and
the same durability, what anybody would write first with the same stack
(`benchmarks/minimal_fanout_app.py`), measured by the same clients the same way.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from agent import tools
from agent.config.loader import load_config
from agent.core.window_token import WindowTokens
from agent.store.database import Database
from agent.store.secrets import window_secret
from benchmarks.common import (
    JOINS_UNLIMITED,
    STORE_HEAD,
    Figure,
    figure,
    keep_no_cookies,
    percentile,
)
from simulators.mosquitto import free_port

CONFIG = (
    STORE_HEAD
    + JOINS_UNLIMITED
    + """
[queues.advice]
label = "Advice"
window_token = "static"
max_waiting = 10000
"""
)


class _Stream(asyncio.Protocol):
    """One event stream: counts frames of one event name and notes when the last came."""

    def __init__(self, event: bytes, changed: asyncio.Event) -> None:
        self._marker = b"event: " + event + b"\n"
        self._changed = changed
        self._tail = b""
        self.frames = 0
        self.last_at = 0.0
        self.transport: asyncio.Transport | None = None
        self.head = b""  # the start of the answer: its status line, if a stream fails

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if not self.head:
            self.head = data[:120]
        chunk = self._tail + data
        found = chunk.count(self._marker)
        self._tail = chunk[-len(self._marker) :]
        if found:
            self.frames += found
            self.last_at = time.perf_counter()
            self._changed.set()


_opened = [0]


async def _open(port: int, path: str, auth: str, event: bytes, changed: asyncio.Event) -> _Stream:
    # Phones have addresses of their own: 100 streams per loopback address (127.0.0.2, ...),
    # under the agent's cap of connections per address.
    source = f"127.0.0.{2 + _opened[0] // 100}"
    _opened[0] += 1
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_connection(
        lambda: _Stream(event, changed), "127.0.0.1", port, local_addr=(source, 0)
    )
    request = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {auth}\r\n"
        "Accept: text/event-stream\r\n\r\n"
    ).encode()
    assert protocol.transport is not None
    protocol.transport.write(request)
    return protocol


async def _until(streams: list[_Stream], counts: list[int], changed: asyncio.Event) -> None:
    """Until every stream has more frames than ``counts`` says it had."""
    while any(s.frames <= c for s, c in zip(streams, counts, strict=True)):
        changed.clear()
        try:
            await asyncio.wait_for(changed.wait(), 30)
        except TimeoutError:
            behind = [s for s, c in zip(streams, counts, strict=True) if s.frames <= c]
            raise RuntimeError(
                f"{len(behind)} of {len(streams)} streams had no new frame; first: "
                f"{behind[0].head!r}; indices {[streams.index(b) for b in behind][:5]}"
            ) from None


def _cpu_s(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _measure(
    port: int, config_path: Path | None, db: Path, watchers: int, tablets: int, calls: int, pid: int
) -> tuple[list[float], list[float], float]:
    """Open the streams, make the calls; ``config_path`` None: the peer, which checks nothing."""
    base = f"http://127.0.0.1:{port}"
    window = "-"  # the peer's: it checks no window token nor pairing code
    config = None if config_path is None else load_config(config_path)
    if config is not None:
        database = Database.open(db, store_id="bench-01", exclusive=False)
        window = WindowTokens(window_secret(database)).static("advice", 1)
        database.close()
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        # One client joins for every phone and calls as the tablet: a tablet holds none of
        # the 550 phones' `rt_` cookies (a 27 KB Cookie header on each call, parsed by the
        # agent's dependencies, before session 8).
        keep_no_cookies(client)
        tokens = []
        for index in range(tablets):
            code = "-" if config is None else tools.pairing_code(config, f"tablet-{index}")
            paired = await client.post("/api/v1/pair", json={"code": code, "device_name": "t"})
            tokens.append(paired.json()["token"])
        staff = {"Authorization": f"Bearer {tokens[0]}"}
        tickets = []
        for _ in range(watchers + calls):
            joined = await client.post(
                "/api/v1/queues/advice/tickets", json={"window_token": window}
            )
            body = joined.json()
            tickets.append((body["ticket"]["id"], body["secret"]))
        changed = asyncio.Event()
        # The first `calls` tickets are called in turn; the rest wait and watch throughout.
        phones = [
            await _open(port, f"/api/v1/tickets/{t}/stream", f"Ticket {s}", b"ticket", changed)
            for t, s in tickets[calls:]
        ]
        boards = [
            await _open(port, "/api/v1/staff/stream", f"Bearer {token}", b"queue", changed)
            for token in tokens
        ]
        streams = phones + boards
        await _until(streams, [0] * len(streams), changed)  # each has its first frame
        fanout: list[float] = []
        answer: list[float] = []
        cpu = 0.0  # the agent's, summed over the calls' fan-outs
        for _ in range(calls):
            await asyncio.sleep(0.05)  # quiet between calls
            counts = [s.frames for s in streams]
            cpu_before = _cpu_s(pid)
            started = time.perf_counter()
            called = await client.post("/api/v1/queues/advice/call-next", headers=staff)
            answered = time.perf_counter()
            called.raise_for_status()
            await _until(streams, counts, changed)
            cpu += _cpu_s(pid) - cpu_before
            fanout.append(max(s.last_at for s in streams) - started)
            answer.append(answered - started)
            await client.post(f"/api/v1/tickets/{called.json()['id']}/served", headers=staff)
        for stream in streams:
            if stream.transport is not None:
                stream.transport.close()
        return fanout, answer, cpu / calls


def measure(
    watchers: int, tablets: int, calls: int, *, peer: bool = False
) -> tuple[list[float], list[float], float]:
    """The agent (``peer`` False) or the minimal FastAPI app, each in its own process."""
    with tempfile.TemporaryDirectory(prefix="bench-fanout-") as tmp:
        port = free_port()
        db = Path(tmp) / "agent.db"
        config = None if peer else Path(tmp) / "agent.toml"
        if config is None:
            command = [sys.executable, "-m", "benchmarks.minimal_fanout_app", str(port), str(db)]
        else:
            config.write_text(CONFIG.format(db=db, port=port))
            command = [sys.executable, "-m", "agent", "--log-level", "ERROR", "run", "-c"]
            command.append(str(config))
        log_path = Path(tmp) / "agent.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(command, stdout=log, stderr=log, env=dict(os.environ))
        try:
            for _ in range(200):
                if process.poll() is not None:
                    raise RuntimeError(log_path.read_text())
                try:
                    httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)  # the peer: 404
                    break
                except httpx.HTTPError:
                    time.sleep(0.05)
            spy = None
            if os.environ.get("FANOUT_PYSPY"):  # profiling aid: py-spy raw output to this path
                spy = subprocess.Popen(
                    ["py-spy", "record", "-p", str(process.pid), "-r", "250", "-f", "raw",
                     "-o", os.environ["FANOUT_PYSPY"], "--nonblocking"],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )  # fmt: skip
            try:
                run = _measure(port, config, db, watchers, tablets, calls, process.pid)
                return asyncio.run(run)
            finally:
                if spy is not None:
                    spy.send_signal(signal.SIGINT)
                    spy.wait(timeout=30)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=15)


def run(quick: bool) -> list[Figure]:
    watchers, tablets = (50, 2) if quick else (500, 10)
    calls, rounds = (10, 1) if quick else (50, 3)
    ours: list[tuple[list[float], list[float], float]] = []
    peers: list[tuple[list[float], list[float], float]] = []
    for _ in range(rounds):  # alternated, so both sides see the same machine
        ours.append(measure(watchers, tablets, calls))
        peers.append(measure(watchers, tablets, calls, peer=True))
    ms = lambda xs, q: round(percentile(xs, q) * 1000, 1)  # noqa: E731
    median = lambda xs: sorted(xs)[len(xs) // 2]  # noqa: E731
    rounds_note = lambda side: ", ".join(  # noqa: E731
        f"{ms(fanout, 0.5)} / {ms(fanout, 0.99)}" for fanout, _, _ in side
    )
    setup = (
        f"{watchers} phones on their ticket streams + {tablets} tablets on the staff stream,"
        f" {calls} calls a round, {rounds} alternated rounds; each server in its own process,"
        " clients are sockets counting frames"
    )
    return [
        figure(
            "call-next -> the last of the watching streams has its frame, p50 (median of rounds)",
            median([ms(fanout, 0.5) for fanout, _, _ in ours]),
            median([ms(fanout, 0.5) for fanout, _, _ in peers]),
            "ms (baseline: a minimal FastAPI app with the same streams and durability,"
            " benchmarks/minimal_fanout_app.py)",
            "< 20 ms",
            f"{setup}; p50 / p99 per round: ours {rounds_note(ours)}, peer {rounds_note(peers)}",
        ),
        figure(
            "the call's own HTTP answer, p50 / p99 (all rounds)",
            f"{ms([a for _, r, _ in ours for a in r], 0.5)} / "
            f"{ms([a for _, r, _ in ours for a in r], 0.99)}",
            f"{ms([a for _, r, _ in peers for a in r], 0.5)} / "
            f"{ms([a for _, r, _ in peers for a in r], 0.99)}",
            "ms, durable commit included (baseline: the minimal app's)",
            "-",
        ),
        figure(
            "the server's CPU time per call, from the call to the last frame (median of rounds)",
            round(median([cpu for _, _, cpu in ours]) * 1000, 1),
            round(median([cpu for _, _, cpu in peers]) * 1000, 1),
            "ms (process user + system time, /proc; 10 ms ticks summed over the calls;"
            " baseline: the minimal app's)",
            "-",
        ),
    ]


if __name__ == "__main__":
    for f in run(quick="--quick" in sys.argv):
        print(f)
