"""The manager view's report: the store's rows for the period, then the figures.

The rows are read on the store's thread (three indexed queries, agent.store.reports); the
figures are computed in a worker thread (agent.core.reports is pure), so a 30-day report
on a slow card neither holds the database nor stalls the event loop that serves tablets.
"""

from __future__ import annotations

import asyncio

from agent.core.ports import Clock
from agent.core.reports import ManagerReport, Period, TicketRow, VisitRow, build_report
from agent.store.reports import ReportQueries
from agent.store.unit_of_work import UnitOfWork

_Rows = tuple[list[tuple[str, int]], list[TicketRow], list[VisitRow]]


class ReportService:
    def __init__(
        self,
        uow: UnitOfWork,
        queries: ReportQueries,
        clock: Clock,
        *,
        timezone: str,
        max_days: int,
    ) -> None:
        self._uow = uow
        self._queries = queries
        self._clock = clock
        self._timezone = timezone
        # Tickets are deleted after `[storage] ticket_retention_days`: a longer period would
        # show days with no queue at all, which reads as "nobody came".
        self.max_days = max_days

    async def report(self, days: int) -> ManagerReport:
        if not 1 <= days <= self.max_days:
            raise ValueError(f"days must be 1 to {self.max_days}")
        period = Period.ending(self._clock.now(), days, self._timezone)
        hourly, tickets, visits = await self._uow.read(self._rows, period)
        return await asyncio.to_thread(build_report, period, hourly, tickets, visits)

    def _rows(self, period: Period) -> _Rows:
        q = self._queries
        first, last = period.first_day.isoformat(), period.last_day.isoformat()
        since = period.starts_at
        return q.hourly_entries(first, last), q.tickets_since(since), q.visits_since(since)
