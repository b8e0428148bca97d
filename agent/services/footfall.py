"""Footfall and occupancy as a service: counts in, occupancy out (retained MQTT, tablets).

Each count is committed with the counter's new last value and the hourly aggregate before it
changes the occupancy, so a restart neither loses nor double-counts people. The retained
occupancy message is coalesced (at most one per `publish_min_interval_s`); `footfall.counted`
events go through the outbox once per door per `report_interval_s`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from agent.config.model import AgentConfig
from agent.core.clock import rfc3339
from agent.core.events import DomainEvent, FootfallCounted
from agent.core.footfall import Direction, Occupancy, OccupancySettings, counter_delta
from agent.core.ports import Clock
from agent.core.readings import FootfallCount
from agent.metrics import Metrics
from agent.services.hub import STAFF_TOPIC, Hub
from agent.store.footfall import FootfallRepository
from agent.store.unit_of_work import UnitOfWork

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class OccupancyView:
    """The store's occupancy now: what tablets, the join page and the retained MQTT message
    (contract §4) show."""

    occupancy: int
    capacity: int | None
    level: str  # "quiet" | "busy" | "full"
    ts: str

    def as_json(self) -> dict[str, object]:
        return {
            "occupancy": self.occupancy,
            "capacity": self.capacity,
            "level": self.level,
            "ts": self.ts,
        }


@dataclass(frozen=True, slots=True)
class FootfallHour:
    hour: str  # "09": the local hour
    entered: int
    left: int
    joins: int  # queue joins in that hour
    conversion: float | None  # joins per entry, where there were entries


@dataclass(frozen=True, slots=True)
class FootfallDay:
    day: str  # YYYY-MM-DD, local
    hours: tuple[FootfallHour, ...]
    entered: int
    joins: int
    conversion: float | None


def _per_entry(joins: int, entered: int) -> float | None:
    return round(joins / entered, 3) if entered else None


RetainedPublisher = Callable[[str, bytes], None]


class FootfallService:
    def __init__(
        self,
        config: AgentConfig,
        uow: UnitOfWork,
        repository: FootfallRepository,
        clock: Clock,
        metrics: Metrics,
        hub: Hub,
        *,
        occupancy_topic: str,
        publish_retained: RetainedPublisher | None,
    ) -> None:
        oc = config.occupancy
        self._config = config
        self._uow = uow
        self._repository = repository
        self._clock = clock
        self._metrics = metrics
        self._hub = hub
        self._topic = occupancy_topic
        self._publish_retained = publish_retained
        self._zone = ZoneInfo(config.store.timezone)
        self.occupancy = Occupancy(OccupancySettings(oc.capacity, oc.busy_ratio, oc.busy_at))
        self._last: dict[str, int] = {}
        self._doors = sorted({d.door for d in config.devices if d.kind == "footfall" and d.door})
        self._changed = asyncio.Event()
        self._window_start = clock.now()
        self._last_reset_day: str | None = None

    async def load(self) -> None:
        self._last = await self._uow.read(self._repository.last_values)
        self._last_reset_day = self._local(self._clock.now()).date().isoformat()
        self._changed.set()  # publish the (zero) occupancy once at start

    async def count(self, reading: FootfallCount) -> None:
        try:
            direction = Direction(reading.direction)
        except ValueError:
            self._metrics.malformed_dropped.labels(source="footfall").inc()
            return
        if reading.value < 0:
            self._metrics.malformed_dropped.labels(source="footfall").inc()
            return
        if reading.cumulative:
            people = counter_delta(self._last.get(reading.sensor), reading.value)
        else:
            people = reading.value
        hour = self._local(self._clock.now()).strftime("%Y-%m-%dT%H")

        def work() -> tuple[None, Sequence[DomainEvent]]:
            if reading.cumulative:
                self._repository.set_last_value(reading.sensor, reading.value)
            if people:
                entered = people if direction == Direction.IN else 0
                self._repository.add_hourly(hour, reading.door, entered, people - entered)
            return None, []

        await self._uow.commit(work)
        if reading.cumulative:
            self._last[reading.sensor] = reading.value
        if people:
            self.occupancy.count(reading.door, direction, people)
            self._metrics.footfall.labels(door=reading.door, direction=direction.value).inc(people)
            self._changed.set()

    def snapshot(self) -> OccupancyView:
        return OccupancyView(
            occupancy=self.occupancy.inside,
            capacity=self.occupancy.settings.capacity,
            level=self.occupancy.level.value,
            ts=rfc3339(self._clock.now()),
        )

    async def hours(self, day: str | None = None) -> FootfallDay:
        """Entries and exits per local hour of ``day`` (default today), with queue joins and
        the conversion proxy joins / entries where both exist (for the staff page)."""
        local = self._local(self._clock.now())
        day = day or local.date().isoformat()
        # The day's UTC offset at this moment: on the two DST change days one hour of joins
        # may be filed under its neighbour, which a daily view can live with.
        offset = local.strftime("%z")
        offset = f"{offset[:3]}:{offset[3:]}"
        counts = await self._uow.read(self._repository.hours, day)
        joins = await self._uow.read(self._repository.joins_per_hour, day, offset)
        by_hour: dict[str, list[int]] = {}  # hour -> [entered, left, joins]
        for hour, entered, left in counts:
            by_hour[hour] = [entered, left, 0]
        for hour, n in joins.items():
            by_hour.setdefault(hour, [0, 0, 0])[2] = n
        rows = tuple(
            FootfallHour(hour[-2:], entered, left, joined, _per_entry(joined, entered))
            for hour, (entered, left, joined) in sorted(by_hour.items())
        )
        total_in = sum(r.entered for r in rows)
        total_joins = sum(r.joins for r in rows)
        return FootfallDay(day, rows, total_in, total_joins, _per_entry(total_joins, total_in))

    async def run(self, stop: asyncio.Event) -> None:
        """Publish changes (coalesced), report intervals, reset at closing time."""
        min_interval = self._config.occupancy.publish_min_interval_s
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=1.0)
            if self._changed.is_set():
                self._changed.clear()
                self._publish()
                if min_interval:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), timeout=min_interval)
            await self.report_if_due()
            self.reset_if_due()

    async def report_if_due(self, *, force: bool = False) -> None:
        now = self._clock.now()
        interval = timedelta(seconds=self._config.occupancy.report_interval_s)
        if not force and now - self._window_start < interval:
            return
        windows = self.occupancy.take_windows()
        start, self._window_start = self._window_start, now
        events: list[DomainEvent] = [
            FootfallCounted(
                door=door,
                in_=windows[door].entered if door in windows else 0,
                out=windows[door].left if door in windows else 0,
                from_=rfc3339(start),
                to=rfc3339(now),
            )
            for door in sorted(set(self._doors) | set(windows))
        ]
        if events:
            await self._uow.record(events)

    def reset_if_due(self) -> None:
        local = self._local(self._clock.now())
        day = local.date().isoformat()
        if day == self._last_reset_day or local.strftime("%H:%M") < self._config.occupancy.reset_at:
            return
        self._last_reset_day = day
        if self.occupancy.inside:
            _LOGGER.info("daily reset: %d people still counted inside", self.occupancy.inside)
        self.occupancy.reset()
        self._changed.set()

    def _publish(self) -> None:
        snapshot = self.snapshot()
        self._metrics.occupancy.set(self.occupancy.inside)
        self._hub.publish(STAFF_TOPIC, "occupancy", snapshot)
        if self._publish_retained is not None:
            # The contract's retained occupancy message (§4) is this view's JSON.
            payload = json.dumps(snapshot.as_json()).encode("utf-8")
            self._publish_retained(self._topic, payload)

    def _local(self, moment: datetime) -> datetime:
        return moment.astimezone(self._zone)
