"""Footfall counters and occupancy (pure; times passed in).

Door nodes publish cumulative counts since they booted. The first value ever seen from a
counter counts in full; a value lower than the last means the node restarted, so the new
value counts from 0; the same value again (a retained or duplicated message) counts nothing.
Traffic is therefore never negative, and nothing is counted twice.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Direction(enum.StrEnum):
    IN = "in"
    OUT = "out"


class Level(enum.StrEnum):
    QUIET = "quiet"
    BUSY = "busy"
    FULL = "full"


def counter_delta(last: int | None, value: int) -> int:
    """People counted since the last value of a cumulative counter (contract §2)."""
    if last is None or value < last:
        return value  # first value seen, or the node rebooted and counts from 0 again
    return value - last


@dataclass
class DoorWindow:
    """Counts of one door in the current reporting interval."""

    entered: int = 0
    left: int = 0


@dataclass(frozen=True, slots=True)
class OccupancySettings:
    capacity: int | None = None
    busy_ratio: float = 0.7  # busy from this share of capacity
    busy_at: int | None = None  # or from this many people (without a capacity)


@dataclass
class Occupancy:
    """People inside: entries minus exits, never below zero.

    Sensors miss people. When more leave than were counted in, the count is clamped at zero
    (an empty store cannot hold -3 people) rather than carried as debt; the daily reset at
    closing time removes the drift that accumulates the other way.
    """

    settings: OccupancySettings
    inside: int = 0
    windows: dict[str, DoorWindow] = field(default_factory=dict)

    def count(self, door: str, direction: Direction, people: int) -> None:
        if people <= 0:
            return
        window = self.windows.setdefault(door, DoorWindow())
        if direction == Direction.IN:
            window.entered += people
            self.inside += people
        else:
            window.left += people
            self.inside = max(0, self.inside - people)

    def reset(self) -> None:
        """Closing time: whoever the sensors think is still inside is drift."""
        self.inside = 0

    def take_windows(self) -> dict[str, DoorWindow]:
        """The counts per door since the last call (for `footfall.counted` events)."""
        windows, self.windows = self.windows, {}
        return windows

    @property
    def level(self) -> Level:
        s = self.settings
        if s.capacity is not None:
            if self.inside >= s.capacity:
                return Level.FULL
            if self.inside >= s.busy_ratio * s.capacity:
                return Level.BUSY
            return Level.QUIET
        if s.busy_at is not None and self.inside >= s.busy_at:
            return Level.BUSY
        return Level.QUIET

    def snapshot(self) -> dict[str, int | str | None]:
        return {
            "occupancy": self.inside,
            "capacity": self.settings.capacity,
            "level": self.level.value,
        }
