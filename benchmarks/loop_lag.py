"""Event-loop lag from the agent's periodic work with 100 000 consenting customers.

The real daemon (bootstrap `build` + `assemble`, started) with the customers in its database;
a timer task on its loop sleeps 5 ms at a time and records how late each wake-up is. The
clock is the system's, shifted so that an EID period boundary (every 1 024 s for the
customers' rotation exponent 10, all on one epoch, so all of them roll over together) falls
inside the run: the window before the boundary, when every customer's coming EIDs are
computed (the prefetch), then the boundary itself, when the old ones are dropped (the clock
is stepped forward over the minute between, as NTP would), and a housekeeping round
(retention purges) during the measurement.

Peers in the same run: the same timer on the same agent with no periodic work due (the
floor), and the roll-over done the way it was before it was sliced: `EidTable.advance`, all
customers at once, timed as one call on the same table (the loop stall it caused).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.ble_consumers import agent_config, seed_customers
from benchmarks.ble_end_to_end import _records
from benchmarks.common import Figure, figure, percentile

EPOCH = 1_767_225_600  # simulators.customers.demo_customer's
PERIOD_S = 1024
TICK_S = 0.005


class ShiftedClock:
    """The system clock moved by ``offset`` seconds (wall time only; monotonic is real)."""

    def __init__(self, offset: float) -> None:
        self.offset = offset

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.offset)

    def monotonic(self) -> float:
        return time.monotonic()


async def _lateness(seconds: float) -> list[tuple[float, float]]:
    """(ms late, ms of the loop thread's CPU time) per wake-up. On a shared machine the OS
    may preempt the process for tens of ms; the CPU time the loop's thread spent between
    two wake-ups is the part that is the agent's own work, whatever the neighbours do."""
    loop = asyncio.get_running_loop()
    late: list[tuple[float, float]] = []
    end = loop.time() + seconds
    while loop.time() < end:
        before, cpu_before = loop.time(), time.thread_time()
        await asyncio.sleep(TICK_S)
        wall = (loop.time() - before - TICK_S) * 1000
        # CPU beyond the timer's own 5 ms: what kept the loop from waking it on time.
        cpu = (time.thread_time() - cpu_before - TICK_S) * 1000
        late.append((wall, max(0.0, cpu)))
    return late


async def _measure(workdir: Path, customers: int, quick: bool) -> dict[str, Any]:
    from agent.bootstrap import assemble, build
    from agent.config.loader import load_config
    from agent.core.eid import ROLLOVER_LEAD_S

    # Start 30 s before a prefetch window opens: loading 100k customers takes a few seconds.
    now = time.time()
    boundary = EPOCH + ((int(now + 3 * PERIOD_S) - EPOCH) // PERIOD_S) * PERIOD_S
    clock = ShiftedClock(boundary - ROLLOVER_LEAD_S - 30 - now)
    logging.getLogger("agent").setLevel(logging.ERROR)  # no broker here, on purpose
    components = build(load_config(agent_config(workdir, 1)), clock=clock)
    daemon = assemble(components)
    await daemon.start()
    window = 1.5 if quick else 4.0  # seconds measured in each phase
    await asyncio.sleep(0.5 if quick else 1.0)
    floor = await _lateness(window * 0.75)
    # Step to 1 s before the prefetch is due, and measure across it (ticks are 1 s apart).
    clock.offset += boundary - ROLLOVER_LEAD_S - 1 - clock.now().timestamp()
    prefetch = await _lateness(window)
    clock.offset += boundary - 1 - clock.now().timestamp()  # 1 s before the boundary
    retire_task = asyncio.create_task(_lateness(window))
    await asyncio.sleep(window / 2)
    await daemon._housekeeping_once()
    retire = await retire_task
    table = components.recognition.eids
    refreshed = table.advance(clock.now().timestamp())  # what the slices left: nothing
    # The old way, for comparison: every customer's roll-over in one call on the loop.
    started = time.perf_counter()
    all_at_once = table.advance(boundary + PERIOD_S - ROLLOVER_LEAD_S)
    stall_s = time.perf_counter() - started
    assert all_at_once == customers, (all_at_once, customers)
    with contextlib.suppress(Exception):
        await daemon.stop()
    return {
        "floor": floor,
        "prefetch": prefetch,
        "retire": retire,
        "stall_ms": stall_s * 1000,
        "left": refreshed,
    }


def run(quick: bool) -> list[Figure]:
    customers = 2_000 if quick else 100_000
    with tempfile.TemporaryDirectory(prefix="loop-lag-") as tmp:
        workdir = Path(tmp)
        seed_customers(workdir / "agent.db", _records(customers))
        result = asyncio.run(_measure(workdir, customers, quick))
    floor_wall = [w for w, _ in result["floor"]]
    floor_cpu = [c for _, c in result["floor"]]
    rows = []
    worst = 0.0
    for key, label in (("prefetch", "EID prefetch"), ("retire", "EID retire + purge")):
        wall = [w for w, _ in result[key]]
        cpu = [c for _, c in result[key]]
        worst = max(worst, *cpu)
        rows.append(
            figure(
                f"loop held by the agent's own work during {label}, {customers} customers",
                round(max(cpu), 1),
                round(max(floor_cpu), 1),
                "ms, most loop-thread CPU beyond a 5 ms timer's period between two of its"
                " wake-ups (baseline: same timer, nothing due)",
                "< 20 ms",
                f"{len(cpu)} wake-ups; wall lateness max / p99 {max(wall):.1f} /"
                f" {percentile(wall, 0.99):.1f} ms (nothing due: {max(floor_wall):.1f} /"
                f" {percentile(floor_wall, 0.99):.1f}, the machine's own preemption);"
                f" roll-over work left after the slices: {result['left']}",
            )
        )
    rows.append(
        figure(
            f"EID roll-over all at once (before slicing), {customers} customers",
            round(float(result["stall_ms"]), 1),
            round(worst, 1),
            "ms the loop is held (baseline: the longest hold with slices, same run)",
            "-",
            "EidTable.advance for every customer in one call, as the daemon's tick did",
        )
    )
    return rows


if __name__ == "__main__":
    for f in run(quick="--quick" in sys.argv):
        print(f)
