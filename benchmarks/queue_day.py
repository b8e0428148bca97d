"""Estimate error on seeded simulated store days (simulators/queue_day.py), through the real
core: walk-ins and appointments reported separately, against the oracle (the waits that
followed). The peer, in the same run: the same days with estimates that ignore the bookings
still expected (what the estimate was before issue 14's appointments).
"""

from __future__ import annotations

import sys
import time
from statistics import mean

from benchmarks.common import Figure, figure
from simulators.queue_day import DayPlan, DayReport, simulate_day

BUSY_BOOKINGS = {"booked_share": 1.0, "slot_s": 600.0, "walk_in_gap_s": 200.0}


def _days(seeds: range, **plan: float | bool) -> list[DayReport]:
    return [simulate_day(seed, DayPlan(**plan)) for seed in seeds]  # type: ignore[arg-type]


def _under(days: list[DayReport], kind: str) -> float:
    outcomes = [o for d in days for o in d.of(kind)]
    return sum(o.actual_s > o.predicted.high_s for o in outcomes) / len(outcomes)


def run(quick: bool) -> list[Figure]:
    seeds = range(1, 6 if quick else 41)
    figures = []
    for label, plan in (("a normal day", {}), ("a busy booking day", BUSY_BOOKINGS)):
        started = time.perf_counter()
        ours = _days(seeds, **plan)
        peer = _days(seeds, count_bookings=False, **plan)
        took = time.perf_counter() - started
        tickets = sum(len(d.outcomes) for d in ours) / len(ours)
        note = f"{len(seeds)} seeded days, ~{tickets:.0f} tickets each, {took:.1f} s for both sides"
        for kind in ("walk_in", "appointment"):
            figures.append(
                figure(
                    f"{label}: {kind.replace('_', '-')} estimate error, mean abs (p90)",
                    f"{mean(d.mean_abs_error_s(kind) for d in ours) / 60:.2f} "
                    f"({mean(d.p90_abs_error_s(kind) for d in ours) / 60:.2f})",
                    f"{mean(d.mean_abs_error_s(kind) for d in peer) / 60:.2f} "
                    f"({mean(d.p90_abs_error_s(kind) for d in peer) / 60:.2f})",
                    "min (baseline: estimates ignoring bookings still expected)",
                    "walk-in mean <= 4 min, appointment <= 3 min (tests/unit/test_queue_day.py)",
                    note,
                )
            )
            figures.append(
                figure(
                    f"{label}: {kind.replace('_', '-')} told too short a wait",
                    round(100 * _under(ours, kind), 1),
                    round(100 * _under(peer, kind), 1),
                    "% of tickets whose wait exceeded the range's top",
                    "lower than the baseline for walk-ins",
                    note,
                )
            )
    return figures


if __name__ == "__main__":
    for item in run(quick="--quick" in sys.argv):
        print(item)
