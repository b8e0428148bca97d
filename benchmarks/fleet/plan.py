"""The fleet benchmark's sizes and constants: the full and quick plans, the sample event, the
broker settings. Shared by every other module of the package.
"""

from __future__ import annotations

import multiprocessing
from dataclasses import dataclass
from pathlib import Path

PREFIX = "retail/v1"


GROUP = "central"


CONSUMERS = 2


BARE_PROCESSES = 2


BARE_CLIENTS = 8  # per bare process


WINDOW = 32  # the agent's default `inflight_window`


TICK_S = 0.02  # producers' schedule granularity


SUSTAINED_SHARE = 0.95  # a step is sustained if >= 95 % of the offered events arrive in time


P99_LIMIT_MS = 1000.0  # ... with p99 under this (the ramp stops at the first step that is not)


P99_KNEE_MS = 100.0  # the latency knee: the last step before queueing shows in p99


# mosquitto's default max_queued_messages (1000 per client) silently drops QoS 1 messages
# queued for a consumer that lags; a central broker needs a deeper queue.
BROKER_CONFIG = "max_queued_messages 1000000"


SPAWN = multiprocessing.get_context("spawn")


TMPFS = Path("/dev/shm")  # noqa: S108 - mkdtemp makes a private directory in it


SAMPLE_EVENT = {
    "id": "6f1c2e0a-8a3b-4d1e-9f57-0b5c1d2e3f40",
    "store": "store-0001",
    "seq": 42,
    "type": "queue.joined",
    "ts": "2026-01-05T10:00:00.000Z",
    "data": {"queue": "advice", "ticket_id": "t-000042", "number": 42},
}


@dataclass(frozen=True)
class Plan:
    stores: int
    workers: int  # processes the stores are spread over
    customers: int
    rates: tuple[float, ...]  # events/s per store, one ramp step each
    step_s: float
    settle_s: float  # start of each step left out of its figures
    bare_s: float
    c_messages: int  # broker headroom run with mosquitto's C clients


FULL = Plan(200, 4, 50, (1, 2, 4, 6, 8, 12, 16, 24, 32), 10.0, 2.0, bare_s=8.0, c_messages=200_000)


QUICK = Plan(20, 2, 10, (1, 10, 40), 4.0, 1.0, bare_s=3.0, c_messages=40_000)
