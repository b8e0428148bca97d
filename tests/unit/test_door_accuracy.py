"""The break-beam direction logic against the door simulator's ground truth."""

from __future__ import annotations

import random

from agent.core.beams import BeamPair, BeamSettings
from simulators.door import DayScript, store_day


def count(script: DayScript) -> dict[str, int]:
    pair = BeamPair(BeamSettings(debounce_s=0.05))
    counted = {"in": 0, "out": 0}
    for at, beam, broken in script.events:
        if (direction := pair.change(beam, broken, at)) is not None:
            counted[direction] += 1
    if (direction := pair.flush(script.events[-1][0] + 5)) is not None:
        counted[direction] += 1
    return counted


def test_direction_accuracy_against_ground_truth() -> None:
    totals = {"in": [0, 0], "out": [0, 0]}
    for seed in range(5):
        script = store_day(random.Random(seed))
        counted = count(script)
        for direction in ("in", "out"):
            totals[direction][0] += counted[direction]
            totals[direction][1] += script.truth(direction)
    accuracy = {d: c / t for d, (c, t) in totals.items()}
    print(f"counted/true: in {totals['in']}, out {totals['out']}, accuracy {accuracy}")
    # Measured: 87.8 % in, 88.3 % out over five busy days (3221 people each way). The misses
    # are the blind spot of one beam pair: two people side by side (10 % of groups here) or
    # passing within a second of each other (in and out at once at the lunch peak) break the
    # beams as one body. Never more than the truth: nothing is counted twice.
    for direction in ("in", "out"):
        assert 0.85 <= accuracy[direction] <= 1.0


def test_every_passage_alone_in_the_door_is_counted() -> None:
    """With no pairs, every passage that does not overlap another is counted, in its
    direction; overlapping ones (someone lingering while another passes) may merge."""
    for seed in range(5):
        script = store_day(random.Random(seed), peak_per_hour=15, pair_share=0.0, linger_share=0.1)
        p = script.passages
        alone = {"in": 0, "out": 0}
        for i, passage in enumerate(p):
            end = passage.at + passage.linger_s + 1.5
            clear_before = i == 0 or p[i - 1].at + p[i - 1].linger_s + 1.5 < passage.at
            clear_after = i == len(p) - 1 or end < p[i + 1].at
            if clear_before and clear_after:
                alone[passage.direction] += 1
        counted = count(script)
        for direction in ("in", "out"):
            assert alone[direction] <= counted[direction] <= script.truth(direction)
