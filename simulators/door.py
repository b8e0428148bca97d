"""A simulated shop door: people walking through a pair of break beams, with ground truth.

A store day: arrivals following a daily curve (morning, lunch peak, late afternoon), each
visitor leaving again after a dwell time; some come in pairs side by side (one passage for
two people: the known blind spot of break beams), some linger in the doorway. The simulator
knows the truth, so tests and benchmarks can measure how well the direction logic counts.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

BeamEvent = tuple[float, str, bool]  # (seconds since opening, "a" | "b", broken)


@dataclass(frozen=True)
class Passage:
    at: float
    direction: str  # "in" | "out"
    people: int  # 2 for a pair side by side
    linger_s: float = 0.0


@dataclass(frozen=True)
class DayScript:
    passages: list[Passage]
    events: list[BeamEvent]

    def truth(self, direction: str) -> int:
        return sum(p.people for p in self.passages if p.direction == direction)


def arrival_rate(hour: float, peak_per_hour: float) -> float:
    """People per second arriving at `hour` hours after opening (two daily peaks)."""
    lunch = math.exp(-((hour - 3.5) ** 2) / 1.0)
    evening = 0.8 * math.exp(-((hour - 8.0) ** 2) / 1.5)
    return peak_per_hour * (0.15 + lunch + evening) / 3600


def store_day(
    rng: random.Random,
    *,
    hours: float = 10.0,
    peak_per_hour: float = 120.0,
    pair_share: float = 0.1,
    linger_share: float = 0.03,
    mean_dwell_s: float = 900.0,
) -> DayScript:
    passages: list[Passage] = []
    t = 0.0
    close = hours * 3600
    while True:
        # Thinning: draw from the maximum rate, keep with probability rate/max.
        t += rng.expovariate(peak_per_hour * 1.2 / 3600)
        if t >= close - 1800:
            break
        if rng.random() > arrival_rate(t / 3600, peak_per_hour) / (peak_per_hour * 1.2 / 3600):
            continue
        people = 2 if rng.random() < pair_share else 1
        linger = rng.uniform(3, 20) if rng.random() < linger_share else 0.0
        passages.append(Passage(t, "in", people, linger))
        leave = t + rng.expovariate(1 / mean_dwell_s) + 30
        if leave > close - 60:  # still inside at closing: out during the last half hour
            leave = rng.uniform(max(t + 30, close - 1800), close - 60)
        passages.append(Passage(leave, "out", people))
    passages.sort(key=lambda p: p.at)
    events: list[BeamEvent] = []
    for passage in passages:
        events += _beam_events(rng, passage)
    events.sort(key=lambda e: e[0])
    return DayScript(passages, events)


def _beam_events(rng: random.Random, p: Passage) -> list[BeamEvent]:
    first, second = ("a", "b") if p.direction == "in" else ("b", "a")
    t = p.at
    # A body is ~0.3 m deep and the beams ~0.15 m apart: both are broken together for a moment.
    b_on = t + rng.uniform(0.12, 0.3)
    a_off = b_on + rng.uniform(0.1, 0.25) + p.linger_s
    b_off = a_off + rng.uniform(0.12, 0.3)
    events = [(t, first, True), (b_on, second, True), (a_off, first, False), (b_off, second, False)]
    if p.linger_s:
        # Shuffling in the doorway: the inner beam flickers.
        for k in range(int(p.linger_s)):
            moment = b_on + 0.5 + k
            if moment + 0.3 < a_off:
                events += [(moment, second, False), (moment + 0.3, second, True)]
    return events
