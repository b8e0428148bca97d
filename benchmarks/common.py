"""What every benchmark returns, and small measuring helpers."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.cookiejar import DefaultCookiePolicy
from pathlib import Path

import httpx


@dataclass(frozen=True)
class Figure:
    name: str
    ours: str | float | int
    baseline: str | float | int
    unit: str
    target: str
    note: str = ""
    ratio: str = ""  # filled in when both sides are numbers


# The agent config every single-store benchmark starts from (format with db= and port=); each
# appends its [http] extras and its queues.
STORE_HEAD = """
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
"""
# [http] limits a benchmark's one client would hit at once: joins from one address are the load.
JOINS_UNLIMITED = """joins_per_client = 1000000
join_window_s = 10
joins_per_token_per_minute = 10000
"""


def figure(
    name: str,
    ours: float | int | str,
    baseline: float | int | str,
    unit: str,
    target: str,
    note: str = "",
) -> Figure:
    ratio = ""
    if isinstance(ours, (int, float)) and isinstance(baseline, (int, float)) and baseline:
        ratio = f"{ours / baseline:.2f}"
    return Figure(name, ours, baseline, unit, target, note, ratio)


def rss_mb(pid: int | None = None) -> float:
    status = Path(f"/proc/{pid or os.getpid()}/status").read_text()
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def rate(count: int, fn: Callable[[], object]) -> float:
    """Operations per second of ``fn`` doing ``count`` operations."""
    started = time.perf_counter()
    fn()
    return count / (time.perf_counter() - started)


def keep_no_cookies(client: httpx.AsyncClient) -> None:
    """A benchmark's one client stands for every phone (and, in the fan-out, the tablet too),
    and each phone is a browser of its own holding its own ticket's cookie only (the streams
    authenticate with the secret anyway). In the soak, keeping every join's `rt_` cookie
    (12 h each) sent them all with every request: the Cookie header grew ~50 bytes a join. A request whose first read held over 16 KB of
    unfinished headers was refused by h11 (the runs' `400 Invalid HTTP request received.`
    under load), and from ~2 500 joins (~128 KB, ~40 minutes) every request was: the
    earlier 60-minute runs all ended near 39 minutes."""
    client.cookies.jar.set_policy(DefaultCookiePolicy(allowed_domains=[]))
