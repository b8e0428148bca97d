"""What `/healthz` and `/metrics` report about the agent itself: the MQTT link, the outbox and
whether the database can be written.

One object gathers it so the web layer asks a service, not the daemon: the daemon's
housekeeping tells it when its periodic writes fail or recover, the unit of work keeps its own
last write failure, and the outbox gauges are refreshed on each report.
"""

from __future__ import annotations

import sqlite3
from dataclasses import KW_ONLY, dataclass

from agent.core.ports import Clock
from agent.metrics import Metrics
from agent.store.outbox import Outbox
from agent.store.unit_of_work import UnitOfWork
from agent.sync.link import LinkState, MqttLink


@dataclass(frozen=True, slots=True)
class HealthReport:
    mqtt: str  # "connected" | "disconnected" | "disabled"
    outbox: int
    _: KW_ONLY
    storage_ok: bool = True
    storage_problem: str | None = None


class HealthMonitor:
    def __init__(
        self,
        uow: UnitOfWork,
        outbox: Outbox,
        link: MqttLink | None,
        clock: Clock,
        metrics: Metrics,
    ) -> None:
        self._uow = uow
        self._outbox = outbox
        self._link = link
        self._clock = clock
        self._metrics = metrics
        self._housekeeping_problem: str | None = None

    def housekeeping_failed(self, problem: str | None) -> None:
        """The last housekeeping pass's write failure, or None once one succeeded."""
        self._housekeeping_problem = problem

    def mqtt_state(self) -> str:
        return (LinkState.DISABLED if self._link is None else self._link.state).value

    async def report(self) -> HealthReport:
        try:
            stats = await self._uow.read(self._outbox.stats)
        except sqlite3.Error as exc:
            return HealthReport(
                self.mqtt_state(),
                -1,
                storage_ok=False,
                storage_problem=f"database unreadable: {exc}",
            )
        self._metrics.outbox_depth.set(stats.depth)
        age = 0.0
        if stats.oldest_created_at is not None:
            age = max(0.0, self._clock.now().timestamp() - stats.oldest_created_at)
        self._metrics.outbox_oldest_age.set(age)
        # The link's own write failures (a PUBACK it could not record on a full disk) count
        # too: the link stays connected, so without this /healthz would look fine.
        link_problem = self._link.storage_problem if self._link is not None else None
        problem = self._uow.write_problem or self._housekeeping_problem or link_problem
        return HealthReport(
            self.mqtt_state(), stats.depth, storage_ok=problem is None, storage_problem=problem
        )
