"""A seeded store day of one queue, through the real core, fast (no clock, no I/O): walk-ins,
booked appointments (on time, late, never), walkouts and no-shows at the counter.

The agent's own pieces decide: `QueueBook` orders and calls (priority head starts and the
appointments' rule, agent.core.priority), `WaitEstimator` learns service times and gives the
range a customer is shown, and `booked_ahead` adds the bookings due before a ticket's call,
as `QueueRegistry.estimate` does in the daemon. The simulation plays the world around them:
arrivals, service times, who comes late or not at all. Each ticket's estimate at the moment
it entered the queue is compared with the wait that followed (the oracle), separately for
walk-ins and for appointments (benchmarks/RESULTS.md, tests/unit/test_queue_day.py).
"""

from __future__ import annotations

import heapq
import math
import random
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from agent.core.appointments import CheckInWindow, booked_ahead, check_in_window
from agent.core.estimate import WaitEstimator, WaitRange
from agent.core.priority import APPOINTMENT
from agent.core.queue import LeftReason, QueueBook, Ticket, TicketState

OPEN = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class DayPlan:
    hours: float = 10.0
    servers: int = 2
    walk_in_gap_s: float = 150.0  # mean time between walk-ins (Poisson arrivals)
    service_mean_s: float = 270.0  # log-normal service times with this mean
    service_sigma: float = 0.5
    slot_s: float = 1200.0  # a bookable slot every 20 minutes ...
    booked_share: float = 0.6  # ... booked this often
    late_share: float = 0.1  # booked customers who come past late_s
    never_share: float = 0.12  # booked customers who never come
    walkout_share: float = 0.05  # walk-ins who give up and leave the store
    no_show_share: float = 0.04  # called customers who do not come to the counter
    no_show_after_s: float = 90.0  # staff mark them no-show after this
    early_s: float = 900.0
    late_s: float = 600.0
    ahead_s: float = 1800.0
    default_service_s: float = 300.0
    # False: estimates ignore the bookings still expected (the peer the rule is compared to).
    count_bookings: bool = True


@dataclass
class Outcome:
    """Estimated (middle of the range shown) and true waits of the tickets called."""

    kind: str  # "walk_in" or "appointment"
    predicted: WaitRange
    actual_s: float

    @property
    def error_s(self) -> float:
        return abs(self.actual_s - (self.predicted.low_s + self.predicted.high_s) / 2)

    @property
    def within(self) -> bool:
        return self.predicted.low_s <= self.actual_s <= self.predicted.high_s


@dataclass
class DayReport:
    outcomes: list[Outcome] = field(default_factory=list)
    walkouts: int = 0
    no_shows: int = 0
    booked_never: int = 0
    late: int = 0

    def of(self, kind: str) -> list[Outcome]:
        return [o for o in self.outcomes if o.kind == kind]

    def mean_abs_error_s(self, kind: str) -> float:
        mine = self.of(kind)
        return sum(o.error_s for o in mine) / len(mine)

    def p90_abs_error_s(self, kind: str) -> float:
        errors = sorted(o.error_s for o in self.of(kind))
        return errors[min(len(errors) - 1, math.ceil(0.9 * len(errors)) - 1)]

    def within_share(self, kind: str) -> float:
        mine = self.of(kind)
        return sum(o.within for o in mine) / len(mine)

    def mean_wait_s(self, kind: str) -> float:
        mine = self.of(kind)
        return sum(o.actual_s for o in mine) / len(mine)


class QueueDaySimulation:
    def __init__(self, plan: DayPlan, seed: int) -> None:
        self.plan = plan
        self._rng = random.Random(seed)
        self._book = QueueBook("advice", head_starts={APPOINTMENT: plan.ahead_s, "mobility": 600.0})
        self._estimator = WaitEstimator(plan.default_service_s, plan.servers)
        self._events: list[tuple[float, int, str, object]] = []
        self._order = 0
        self._numbers = 0
        self._busy = 0
        self._predicted: dict[str, tuple[str, WaitRange]] = {}
        self._expected: dict[str, datetime] = {}  # bookings not checked in: id -> time
        self._no_show_ids: set[str] = set()
        self.report = DayReport()

    # --- the world ----------------------------------------------------------------------------

    def _at(self, seconds: float, what: str, data: object = None) -> None:
        self._order += 1
        heapq.heappush(self._events, (seconds, self._order, what, data))

    def _service_s(self) -> float:
        p = self.plan
        mu = math.log(p.service_mean_s) - p.service_sigma**2 / 2
        return self._rng.lognormvariate(mu, p.service_sigma)

    def _plan_day(self) -> None:
        p, rng = self.plan, self._rng
        end = p.hours * 3600
        t = rng.expovariate(1 / p.walk_in_gap_s)
        while t < end:
            self._at(t, "walk_in")
            t += rng.expovariate(1 / p.walk_in_gap_s)
        slot = p.slot_s
        while slot < end - p.slot_s:
            if rng.random() < p.booked_share:
                ident = f"b{int(slot)}"
                self._expected[ident] = OPEN + timedelta(seconds=slot)
                luck = rng.random()
                if luck < p.never_share:
                    self.report.booked_never += 1
                    self._at(slot + p.late_s, "forget", ident)
                elif luck < p.never_share + p.late_share:
                    self.report.late += 1
                    self._at(slot + rng.uniform(p.late_s + 60, p.late_s + 900), "check_in", ident)
                else:
                    self._at(
                        slot + rng.uniform(-p.early_s * 0.8, p.late_s * 0.5), "check_in", ident
                    )
            slot += p.slot_s

    # --- the agent's decisions ------------------------------------------------------------------

    def _estimate(self, ahead: int, now_s: float) -> WaitRange:
        now = OPEN + timedelta(seconds=now_s)
        elapsed = [(now - t.called_at).total_seconds() for t in self._book.called() if t.called_at]

        def base(people: int) -> WaitRange:
            return self._estimator.estimate(people, elapsed, now_s)

        def wait_for(people: int) -> float:
            wait = base(people)
            return (wait.low_s + wait.high_s) / 2

        if not self.plan.count_bookings:
            return base(ahead)
        window = (self.plan.late_s, self.plan.ahead_s)
        extra = booked_ahead(self._expected.values(), now, window, wait_for, ahead)
        return base(ahead + extra)

    def _enter(self, now_s: float, kind: str, booked_at: datetime | None = None) -> None:
        now = OPEN + timedelta(seconds=now_s)
        self._numbers += 1
        draft = Ticket(
            id=f"t{self._numbers}", queue="advice", number=self._numbers,
            state=TicketState.WAITING, sort_key=self._book.next_sort_key(), created_at=now,
            secret_hash="", booked_at=booked_at,
        )  # fmt: skip
        draft = replace(draft, sort_key=self._book.place(draft))
        ahead = sum(1 for t in self._book.waiting() if t.sort_key < draft.sort_key)
        self._predicted[draft.id] = (kind, self._estimate(ahead, now_s))
        joined, _ = self._book.join(draft)
        self._book.apply(joined)
        if kind == "walk_in" and self._rng.random() < self.plan.walkout_share:
            self._at(now_s + self._rng.uniform(300, 1800), "walk_out", draft.id)
        self._serve_if_free(now_s)

    def _serve_if_free(self, now_s: float) -> None:
        now = OPEN + timedelta(seconds=now_s)
        while self._busy < self.plan.servers and self._book.waiting_count():
            called, _ = self._book.call_next(now, "sim")
            self._book.apply(called)
            self._busy += 1
            self._estimator.record_call(now_s, backlog=self._book.waiting_count() > 0)
            kind, predicted = self._predicted.pop(called.id)
            waited = (now - called.created_at).total_seconds()
            self.report.outcomes.append(Outcome(kind, predicted, waited))
            if self._rng.random() < self.plan.no_show_share:
                self._at(now_s + self.plan.no_show_after_s, "no_show", called.id)
            else:
                self._at(now_s + self._service_s(), "served", called.id)

    def run(self) -> DayReport:
        self._plan_day()
        while self._events:
            now_s, _, what, data = heapq.heappop(self._events)
            now = OPEN + timedelta(seconds=now_s)
            if what == "walk_in":
                self._enter(now_s, "walk_in")
            elif what == "check_in":
                at = self._expected.pop(str(data))
                timing = check_in_window(at, now, self.plan.early_s, self.plan.late_s)
                booked_at = at if timing == CheckInWindow.ON_TIME else None
                self._enter(now_s, "appointment", booked_at)
            elif what == "forget":
                # Past late_s without a check-in: no longer counted in the estimates (the
                # daemon drops it at no_show_after_s; counting it until then errs long).
                self._expected.pop(str(data), None)
            elif what == "walk_out":
                ticket = self._book.get(str(data))
                if ticket is not None and ticket.state == TicketState.WAITING:
                    left, _ = self._book.leave(ticket, now, LeftReason.WALKED_OUT)
                    self._book.apply(left)
                    self._predicted.pop(left.id, None)
                    self.report.walkouts += 1
            elif what in ("served", "no_show"):
                ticket = self._book.get(str(data))
                if ticket is None or ticket.called_at is None:
                    continue  # not possible: only called tickets get these events
                if what == "served":
                    done, _ = self._book.served(ticket, now)
                    self._estimator.record_service((now - ticket.called_at).total_seconds())
                else:
                    done, _ = self._book.no_show(ticket, now)
                    self._estimator.record_no_show((now - ticket.called_at).total_seconds())
                    self.report.no_shows += 1
                self._book.apply(done)
                self._busy -= 1
                self._serve_if_free(now_s)
        return self.report


def simulate_day(seed: int = 14, plan: DayPlan | None = None) -> DayReport:
    return QueueDaySimulation(plan or DayPlan(), seed).run()
