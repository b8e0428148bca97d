"""72 hours offline at a busy store's event rate, on a fake clock; then the broker comes back.

The agent is built in process with a ManualClock (agent.bootstrap.build) and started
(AgentDaemon), connects once, then its broker goes away (stopped; persistence keeps the
central side's session). The test then drives 72 simulated hours of a busy store through the
real services and unit of work (no HTTP, so it runs in seconds):

- two queues: 2 000 tickets a day between them, from 09:00 to 21:00, each joined, called one
  step later and served one step after that (`queue.joined`, `queue.called`, `queue.served`);
- footfall: two doors counting people while the store is open, and the footfall service's
  `footfall.counted` report per door every `report_interval_s` (300 s), day and night;
- housekeeping (the daemon's own `_housekeeping_once`, which applies the outbox retention
  policy and counts drops in the metrics) once a simulated minute, as the daemon does.

With the outbox bounded (`outbox_max_events`, `outbox_max_age_s`: see Plan) both rules drop
events. Checked throughout: the outbox stays within its bounds after every check, the
database files and the process's resident memory stay within the budgets below. Checked at the
end: the metrics count every dropped event by reason; the broker comes back, the agent
reconnects by itself and delivers everything still in the outbox; at the central side (resend
requests off, so nothing is papered over) every missing `seq` lies inside a range announced by
an `outbox.dropped` event it received, and nothing else is missing.

CI form: events in five-minute steps, bounds of 5 000 events / 12 hours (both rules act).
`--long`: the same at full scale (every join, call and door count at its own minute), and 15
days with the production defaults (500 000 events / 14 days: only the age rule acts).

The two tests at the end pin down what this suite found in the retention code.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import statistics
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agent.bootstrap import Components, assemble, build
from agent.config.loader import load_config
from agent.core.clock import ManualClock
from agent.core.events import AgentStarted
from agent.core.readings import FootfallCount
from agent.daemon import AgentDaemon
from agent.services.queue import JoinRequest
from agent.store.database import Database
from agent.store.outbox import Outbox
from simulators.central import CentralService
from simulators.mosquitto import MosquittoBroker
from tests.helpers import eventually, running_central

STORE = "busy-01"
QUEUES = ("advice", "pickup")  # a ticket in one, the next in the other
MIB = 1024 * 1024


@dataclass(frozen=True)
class Plan:
    hours: int = 72
    tickets_per_day: int = 2000
    opens_h: int = 9
    closes_h: int = 21
    doors: tuple[str, ...] = ("main", "side")
    people_per_door_per_min: int = 4  # in and out each, while open
    step_s: int = 300  # events are generated in steps of this many simulated seconds
    max_events: int = 5000  # [storage] outbox_max_events (about 10 busy hours)
    max_age_s: int = 12 * 3600  # [storage] outbox_max_age_s
    sent_keep_events: int = 50_000  # [storage] sent_keep_events (the default)
    reasons: frozenset[str] = frozenset({"max_events", "max_age"})  # rules expected to drop
    check_every_min: int = 1  # outbox bounds asserted after every n-th housekeeping pass
    # Budgets checked throughout (not config keys: what the bounds above must imply).
    db_budget_bytes: int = 16 * MIB  # database + WAL files
    rss_growth_budget_bytes: int = 32 * MIB  # resident memory above the level after start


CI = Plan()
# Full scale: every join, call and door count at its own minute.
LONG_72H = Plan(step_s=60)
# The production defaults (500 000 events, 14 days): 72 h drops nothing, so run 15 days to
# pass the age bound. The full outbox is ~92 000 events: bounds asserted hourly (each check
# counts the whole table, as the daemon's own does).
LONG_DEFAULTS = Plan(
    hours=15 * 24,
    step_s=60,
    max_events=500_000,
    max_age_s=14 * 24 * 3600,
    reasons=frozenset({"max_age"}),
    check_every_min=60,
    db_budget_bytes=96 * MIB,
    rss_growth_budget_bytes=48 * MIB,
)


@dataclass
class Tally:
    by_type: Counter[str] = field(default_factory=Counter)
    hourly: list[int] = field(default_factory=list)
    max_db_bytes: int = 0
    max_rss_growth: int = 0
    max_depth: int = 0
    housekeeping_s: float = 0.0  # the longest housekeeping pass (retention included)


def config_text(tmp_path: Path, mqtt_url: str, plan: Plan) -> str:
    devices = "".join(
        f'[[devices]]\nkind = "footfall"\nadapter = "simulated"\ndoor = "{door}"\n'
        for door in plan.doors
    )
    return f"""
[store]
id = "{STORE}"
name = "Busy store"
timezone = "UTC"
[storage]
path = "{tmp_path / "agent" / "agent.db"}"
outbox_max_events = {plan.max_events}
outbox_max_age_s = {plan.max_age_s}
sent_keep_events = {plan.sent_keep_events}
[http]
bind = "127.0.0.1"
port = 0
public_url = "http://127.0.0.1:8080"
[mqtt]
url = "{mqtt_url}"
reconnect_max_s = 1
[queues.advice]
label = "Advice"
window_token = "static"
max_waiting = 1000
[queues.pickup]
label = "Pick-up"
window_token = "static"
max_waiting = 1000
[occupancy]
report_interval_s = 300
{devices}"""


def rss_bytes() -> int:
    with Path("/proc/self/statm").open() as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def db_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())


@pytest.fixture
async def central(broker: MosquittoBroker) -> AsyncIterator[CentralService]:
    # No resend requests: a hole the agent did not announce must show up as a failure.
    async with running_central(broker.url, resend_after_s=None) as service:
        yield service


class Store:
    """A busy store day after day, through the agent's real services."""

    def __init__(self, components: Components, plan: Plan) -> None:
        self.c = components
        self.plan = plan
        self.clock = components.clock
        assert isinstance(self.clock, ManualClock)
        self.tokens = {queue: components.queues.static_token(queue) for queue in QUEUES}
        self.tickets_issued = 0
        open_steps = (plan.closes_h - plan.opens_h) * 3600 // plan.step_s
        self._per_open_step = plan.tickets_per_day / open_steps
        self._open_step = 0

    def is_open(self) -> bool:
        return self.plan.opens_h <= self.clock.now().hour < self.plan.closes_h

    async def step(self) -> None:
        """One step's events: serve who was called, call who waits, new joins, door counts."""
        queues = self.c.queues
        calls = []
        serves = []
        for queue in QUEUES:
            view = queues.queue_view(queue)
            serves += [queues.served(t.id) for t in view.called]
            calls.append(self._call(queue, len(view.waiting)))
        joins = []
        counts = []
        if self.is_open():
            due = int((self._open_step + 1) * self._per_open_step) - int(
                self._open_step * self._per_open_step
            )
            self._open_step += 1
            joins = [
                queues.join(QUEUES[n % 2], JoinRequest(self.tokens[QUEUES[n % 2]]), f"phone-{n}")
                for n in range(self.tickets_issued, self.tickets_issued + due)
            ]
            self.tickets_issued += due
            people = self.plan.people_per_door_per_min * self.plan.step_s // 60
            counts = [
                self.c.footfall.count(
                    FootfallCount(f"{door}:{way}", door, way, people, False, self.clock.monotonic())
                )
                for door in self.plan.doors
                for way in ("in", "out")
            ]
        # All at once, as in a store: the unit of work commits them in shared transactions.
        await asyncio.gather(*serves, *calls, *joins, *counts)

    async def _call(self, queue: str, waiting: int) -> None:
        # One call at a time per queue (FIFO: those waiting before this step's joins): two
        # concurrent call_next on one queue pick the same ticket (reported, not fixed here).
        for _ in range(waiting):
            await self.c.queues.call_next(queue, f"tablet-{queue}")


async def simulate_offline(
    components: Components, daemon: AgentDaemon, plan: Plan, tally: Tally
) -> None:
    clock = components.clock
    assert isinstance(clock, ManualClock)
    store = Store(components, plan)
    outbox = components.outbox
    runner = components.runner
    database = components.database
    rss_start = rss_bytes()
    mark = (await runner.run(outbox.stats)).next_seq
    hour_events = 0
    for minute in range(plan.hours * 60):
        clock.advance(60)
        if (minute * 60) % plan.step_s == 0:
            await store.step()
        await components.footfall.report_if_due()
        # What the code actually emitted this minute, before retention can drop any of it.
        rows = await runner.run(
            lambda m=mark: database.conn.execute(
                "SELECT type, COUNT(*) FROM outbox WHERE seq >= ? AND type NOT IN "
                "('outbox.dropped', 'agent.started') GROUP BY type",
                (m,),
            ).fetchall()
        )
        for event_type, count in rows:
            tally.by_type[event_type] += count
            hour_events += count
        began = time.perf_counter()
        await daemon._housekeeping_once()
        tally.housekeeping_s = max(tally.housekeeping_s, time.perf_counter() - began)
        assert (await components.health.report()).storage_ok
        # Retention appends `outbox.dropped` events after the mark: they are not counted.
        mark = int(await runner.run(database.meta, "next_seq") or 1)
        if minute % plan.check_every_min == 0 or minute % 60 == 59:
            stats = await runner.run(outbox.stats)
            # The bound right after a check: max_events (one more if both rules dropped).
            assert stats.depth <= plan.max_events + 1, stats
            tally.max_depth = max(tally.max_depth, stats.depth)
            if stats.depth:
                assert stats.oldest_created_at is not None and stats.oldest_seq is not None
                # Only the oldest are ever dropped: what waits is every seq from the oldest on.
                assert stats.depth == stats.next_seq - stats.oldest_seq, stats
                assert stats.oldest_created_at >= clock.now().timestamp() - plan.max_age_s
        if minute % 60 == 59:
            tally.hourly.append(hour_events)
            hour_events = 0
            tally.max_db_bytes = max(tally.max_db_bytes, db_bytes(database.path))
            tally.max_rss_growth = max(tally.max_rss_growth, rss_bytes() - rss_start)
            assert tally.max_db_bytes <= plan.db_budget_bytes, tally.max_db_bytes
            assert tally.max_rss_growth <= plan.rss_growth_budget_bytes, tally.max_rss_growth


async def run_long_offline(
    tmp_path: Path, broker: MosquittoBroker, central: CentralService, plan: Plan
) -> None:
    (tmp_path / "agent").mkdir()
    path = tmp_path / "agent.toml"
    path.write_text(config_text(tmp_path, broker.url, plan), encoding="utf-8")
    clock = ManualClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    components = build(load_config(path), clock=clock)
    daemon = assemble(components)
    await daemon.start()
    started = time.monotonic()
    try:
        link = components.link
        assert link is not None
        await asyncio.wait_for(link.connected.wait(), 15)
        ledger = central.ledger(STORE)
        await eventually(lambda: ledger.max_seq >= 1, message="agent.started at central")
        await eventually(lambda: components.outbox.stats().depth == 0, message="empty outbox")
        delivered_before = len(ledger.by_seq)
        broker.stop()  # the store goes offline
        await eventually(lambda: not link.connected.is_set(), message="link down")
        tally = Tally()
        await simulate_offline(components, daemon, plan, tally)
        simulated_s = time.monotonic() - started
        stats = await components.runner.run(components.outbox.stats)
        waiting = {e.seq for e in await components.runner.run(components.outbox.pending, 0, 10**7)}
        assert len(waiting) == stats.depth
        appended = stats.next_seq - 1
        registry = components.metrics.registry
        dropped = {
            reason: registry.get_sample_value(
                "retail_edge_outbox_dropped_events_total", {"reason": reason}
            )
            or 0.0
            for reason in ("max_events", "max_age")
        }
        assert {reason for reason, count in dropped.items() if count} == plan.reasons, dropped
        # Every event is either still waiting or was dropped (and counted); none delivered.
        assert appended - delivered_before == stats.depth + sum(dropped.values())

        broker.start()  # back, same port, same persistence (the central side's session)
        reconnect_started = time.monotonic()
        await asyncio.wait_for(link.connected.wait(), 15)
        reconnect_s = time.monotonic() - reconnect_started
        await eventually(
            lambda: ledger.max_seq == appended, timeout=30, message="backlog at central"
        )
        drain_s = time.monotonic() - reconnect_started
        await eventually(lambda: components.outbox.stats().depth == 0, timeout=10)
        # Everything within the bound arrived; every hole is announced, nothing else missing.
        received = set(ledger.by_seq)
        assert waiting <= received
        assert ledger.conflicts == 0
        announced = [
            (e["data"]["from_seq"], e["data"]["to_seq"], e["data"]["reason"])
            for e in ledger.events_of_type("outbox.dropped")
        ]
        unexplained = [
            seq for seq in ledger.gaps() if not any(lo <= seq <= hi for lo, hi, _ in announced)
        ]
        assert unexplained == [], f"{len(unexplained)} seqs missing and not announced"
        assert len(ledger.gaps()) == sum(dropped.values())
        assert {reason for _, _, reason in announced} == plan.reasons
        size_after = db_bytes(components.database.path)
        assert size_after <= plan.db_budget_bytes
        events = sum(tally.by_type.values())
        rate = events / plan.hours
        kinds = ", ".join(f"{t} {n / plan.hours:.0f}" for t, n in sorted(tally.by_type.items()))
        print(
            f"{plan.hours} h offline ({plan.step_s} s steps, {simulated_s:.1f} s real): "
            f"{rate:.0f} events/h ({kinds}); outbox bounds {plan.max_events} events / "
            f"{plan.max_age_s // 3600} h: {dropped['max_events']:.0f} dropped by count and "
            f"{dropped['max_age']:.0f} by age, {len(announced)} outbox.dropped received; "
            f"{stats.depth} waiting at reconnect, all delivered ({ledger.duplicates} duplicates) "
            f"in {drain_s:.1f} s, reconnect {reconnect_s:.2f} s; max depth {tally.max_depth}, "
            f"longest housekeeping pass {tally.housekeeping_s * 1000:.0f} ms; "
            f"database+WAL max {tally.max_db_bytes / MIB:.1f} MiB offline, "
            f"{size_after / MIB:.1f} MiB after delivery (budget "
            f"{plan.db_budget_bytes / MIB:.0f}); RSS growth max "
            f"{tally.max_rss_growth / MIB:.1f} MiB (budget "
            f"{plan.rss_growth_budget_bytes / MIB:.0f}); hours from "
            f"{min(tally.hourly)} to {max(tally.hourly)} events (median "
            f"{statistics.median(tally.hourly):.0f})"
        )
    finally:
        with contextlib.suppress(Exception):
            await daemon.stop()


# Under 60 s on earlier machines; 69.5 s on session 8's with the same code (a CPU ~2.5x slower
# at the same Python work): the bound is for a hang, not for the machine's speed.
@pytest.mark.timeout(240)
async def test_72h_offline_stays_bounded_and_delivers_the_rest(
    tmp_path: Path, broker: MosquittoBroker, central: CentralService
) -> None:
    await run_long_offline(tmp_path, broker, central, CI)


@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.parametrize(
    "plan", [LONG_72H, LONG_DEFAULTS], ids=["72h-minute-steps", "15d-defaults"]
)
async def test_long_offline_full_scale(
    tmp_path: Path, broker: MosquittoBroker, central: CentralService, plan: Plan
) -> None:
    await run_long_offline(tmp_path, broker, central, plan)


# --- What this suite found, pinned down on the outbox itself --------------------------------


def _outbox(tmp_path: Path) -> tuple[Database, Outbox, ManualClock]:
    clock = ManualClock()
    database = Database.open(tmp_path / "a.db", store_id="s-1")
    return database, Outbox(database, "s-1", clock), clock


def test_at_the_count_bound_nothing_more_is_dropped(tmp_path: Path) -> None:
    # Found by the 72 h run: at exactly outbox_max_events every check dropped the oldest
    # waiting event and appended its announcement, so a store sitting at the bound replaced
    # one real event by an `outbox.dropped` every minute, for as long as it stayed offline.
    database, outbox, _ = _outbox(tmp_path)
    with database.atomic():
        outbox.append([AgentStarted(str(i)) for i in range(1500)])
    assert [d.count for d in outbox.enforce_retention(1000, 10**9)] == [501]
    assert outbox.stats().depth == 1000
    for _ in range(5):
        assert outbox.enforce_retention(1000, 10**9) == []
    assert outbox.stats().depth == 1000
    database.close()


def test_a_dropped_announcement_hands_its_range_on(tmp_path: Path) -> None:
    # Found by the 72 h run: an `outbox.dropped` still waiting when retention reached it was
    # dropped with the events after it, and its gap was explained by nothing at all.
    database, outbox, clock = _outbox(tmp_path)
    with database.atomic():
        outbox.append([AgentStarted("a")] * 10)  # seq 1-10
    clock.advance(7200)
    (first,) = outbox.enforce_retention(1000, 3600)  # drops 1-10, announced as seq 11
    assert (first.from_seq, first.to_seq) == (1, 10)
    with database.atomic():
        outbox.append([AgentStarted("b")] * 5)  # seq 12-16
    clock.advance(7200)
    (second,) = outbox.enforce_retention(1000, 3600)  # drops 11-16, the announcement included
    assert (second.from_seq, second.to_seq, second.count) == (1, 16, 6)
    (waiting,) = outbox.pending(0, 10)
    assert json.loads(waiting.body)["data"]["from_seq"] == 1
    database.close()
