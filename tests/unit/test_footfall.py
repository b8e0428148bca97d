"""Counter resets, duplicates and occupancy, pure."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from agent.core.footfall import Direction, Level, Occupancy, OccupancySettings, counter_delta


def test_first_value_counts_in_full() -> None:
    assert counter_delta(None, 7) == 7


def test_increase_counts_the_difference_and_a_repeat_counts_nothing() -> None:
    assert counter_delta(7, 10) == 3
    assert counter_delta(10, 10) == 0  # retained or duplicated state


def test_a_lower_value_is_a_reboot_counted_from_zero() -> None:
    assert counter_delta(120, 4) == 4
    assert counter_delta(120, 0) == 0


@given(st.lists(st.integers(min_value=0, max_value=10_000), max_size=50))
def test_deltas_are_never_negative(values: list[int]) -> None:
    last = None
    for value in values:
        assert counter_delta(last, value) >= 0
        last = value


def test_a_node_that_reboots_loses_nothing_it_reported() -> None:
    # Ground truth: 25 people in; the node reboots after 12 and again after 20.
    reports = [3, 8, 12, 2, 5, 8, 1, 5]  # cumulative since each boot
    last, total = None, 0
    for value in reports:
        total += counter_delta(last, value)
        last = value
    assert total == 12 + 8 + 5


def test_occupancy_clamps_at_zero_and_levels_follow_capacity() -> None:
    occ = Occupancy(OccupancySettings(capacity=10))
    occ.count("main", Direction.OUT, 3)
    assert occ.inside == 0 and occ.level == Level.QUIET
    occ.count("main", Direction.IN, 7)
    assert occ.level == Level.BUSY
    occ.count("side", Direction.IN, 3)
    assert occ.inside == 10 and occ.level == Level.FULL
    assert occ.snapshot() == {"occupancy": 10, "capacity": 10, "level": "full"}
    windows = occ.take_windows()
    assert (windows["main"].entered, windows["main"].left, windows["side"].entered) == (7, 3, 3)
    assert occ.take_windows() == {}
    occ.reset()
    assert occ.inside == 0


def test_without_capacity_busy_needs_a_threshold() -> None:
    assert Occupancy(OccupancySettings()).level == Level.QUIET
    occ = Occupancy(OccupancySettings(busy_at=5))
    occ.count("main", Direction.IN, 5)
    assert occ.level == Level.BUSY and occ.snapshot()["capacity"] is None


def test_random_traffic_never_goes_negative() -> None:
    rng = random.Random(1)
    occ = Occupancy(OccupancySettings(capacity=40))
    for _ in range(5000):
        occ.count("main", rng.choice(list(Direction)), rng.randint(0, 3))
        assert occ.inside >= 0
