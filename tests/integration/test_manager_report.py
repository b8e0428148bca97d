"""The manager view's API: who may see it (401 / 403 / 422), and its figures against a
seeded 35-day history of a busy store, computed again here in the plainest way."""

from __future__ import annotations

import csv
import io
import random
import statistics
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from agent import tools
from agent.config.model import AgentConfig
from agent.core.clock import ManualClock
from agent.store.database import Database
from simulators.store_history import Busy, History, generate, write
from tests.integration.queue_fixtures import display_headers, queue_config, staff_headers

NOW = datetime(2026, 3, 20, 16, 30, tzinfo=UTC)  # a Friday; no DST change in the 35 days before
ZONE = "Europe/Paris"
BUSY = Busy(entries_per_day=600, tickets_per_day=60, visits_per_day=40, customers=150)


def seed(config: AgentConfig) -> History:
    database = Database.open(config.storage.path, store_id=config.store.id)
    database.close()
    today = NOW.astimezone(ZoneInfo(ZONE)).date()
    history = generate(random.Random(14), today, 35, ZONE, BUSY)
    # One customer seen 33 days ago and again yesterday: returning in the 30-day report.
    history.visits.append(("cust-old", NOW - timedelta(days=33)))
    history.visits.append(("cust-old", NOW - timedelta(days=1)))
    write(config.storage.path, history)
    return history


async def manager_headers(client: httpx.AsyncClient, config: AgentConfig) -> dict[str, str]:
    code = tools.pairing_code(config, "office", "manager")
    r = await client.post("/api/v1/pair", json={"code": code, "device_name": "office"})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


@pytest.fixture
async def seeded(write_config, start_agent):  # type: ignore[no-untyped-def]
    config = queue_config(write_config)
    history = seed(config)
    agent = await start_agent(config, clock=ManualClock(NOW))
    async with httpx.AsyncClient(base_url=agent.base_url, timeout=20) as client:
        yield agent, client, history


def expected(history: History, days: int) -> dict[str, Any]:
    """The figures as a person would work them out from the rows, one by one."""
    zone = ZoneInfo(ZONE)
    last = NOW.astimezone(zone).date()
    first = last - timedelta(days=days - 1)

    def inside(moment: datetime) -> bool:
        return first <= moment.astimezone(zone).date() <= last

    entries = sum(
        n for hour, _, n in history.hours if first <= date.fromisoformat(hour[:10]) <= last
    )
    tickets = [t for t in history.tickets if inside(t.created_at)]
    ended = [t for t in tickets if t.state in ("served", "no_show", "left")]
    waits = sorted((t.called_at - t.created_at).total_seconds() for t in tickets if t.called_at)
    within = [
        t.low_s <= (t.called_at - t.created_at).total_seconds() <= t.high_s
        for t in tickets
        if t.called_at
    ]
    errors = [
        abs((t.called_at - t.created_at).total_seconds() - (t.low_s + t.high_s) / 2)
        for t in tickets
        if t.called_at
    ]
    first_seen: dict[str, datetime] = {}
    for customer, at in history.visits:
        first_seen[customer] = min(at, first_seen.get(customer, at))
    in_period = {c for c, at in history.visits if inside(at)}
    new = {c for c in in_period if first_seen[c].astimezone(zone).date() >= first}
    walked = sum(t.left_reason == "walked_out" for t in ended)
    return {
        "entries": entries,
        "joins": len(tickets),
        "joins_per_100_entries": pytest.approx(100 * len(tickets) / entries),
        "ended": len(ended),
        "no_show_rate": pytest.approx(sum(t.state == "no_show" for t in ended) / len(ended)),
        "walkout_rate": pytest.approx(walked / len(ended)),
        "left_rate": pytest.approx(
            sum(t.state == "left" and t.left_reason != "walked_out" for t in ended) / len(ended)
        ),
        "median_wait_s": pytest.approx(statistics.median(waits), abs=0.002),
        "p90_wait_s": pytest.approx(waits[int(0.9 * len(waits) + 0.999999) - 1], abs=0.002),
        "within_estimate": pytest.approx(sum(within) / len(within)),
        "estimate_error_s": pytest.approx(sum(errors) / len(errors), abs=0.002),
        "new_customers": len(new),
        "returning_customers": len(in_period - new),
    }


@pytest.mark.parametrize("days", [7, 30])
async def test_the_figures_match_the_seeded_history(seeded, days: int) -> None:
    agent, client, history = seeded
    headers = await manager_headers(client, agent.components.config)
    r = await client.get(f"/api/v1/manager/report?days={days}", headers=headers)
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["days"] == days and report["last_day"] == "2026-03-20"
    assert report["timezone"] == ZONE and len(report["daily"]) == days
    assert report["totals"] == expected(history, days)
    # The heatmap holds the same entries, on the right weekday and local hour.
    heat = report["entries_by_hour"]
    assert sum(map(sum, heat)) == report["totals"]["entries"]
    friday_17 = sum(
        n
        for hour, _, n in history.hours
        if hour.endswith("T17")
        and date.fromisoformat(hour[:10]).weekday() == 4
        and hour[:10] >= report["first_day"]
    )
    assert heat[4][17] == friday_17 and heat[4][3] == 0  # closed at 03:00
    # Days add up to the totals.
    assert sum(d["joins"] for d in report["daily"]) == report["totals"]["joins"]


async def test_the_csv_has_one_row_per_day(seeded) -> None:
    agent, client, _ = seeded
    headers = await manager_headers(client, agent.components.config)
    report = (await client.get("/api/v1/manager/report?days=7", headers=headers)).json()
    r = await client.get("/api/v1/manager/report.csv?days=7", headers=headers)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [row["day"] for row in rows] == [d["day"] for d in report["daily"]]
    assert [int(row["joins"]) for row in rows] == [d["joins"] for d in report["daily"]]
    assert float(rows[-1]["median_wait_s"]) == pytest.approx(report["daily"][-1]["median_wait_s"])


async def test_only_manager_tablets_get_the_report(seeded) -> None:
    agent, client, _ = seeded
    config = agent.components.config
    staff = await staff_headers(client, config)
    display = await display_headers(client, config)
    manager = await manager_headers(client, config)
    client.cookies.clear()  # pairing set the tablet cookie, which these routes also accept
    for path in ("/api/v1/manager/report", "/api/v1/manager/report.csv"):
        bare = await client.get(path)
        assert bare.status_code == 401 and bare.json()["error"]["code"] == "unauthorized"
        for headers in (staff, display):
            refused = await client.get(path, headers=headers)
            assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
        for days in ("0", "31", "abc", "-1", "7.5"):
            bad = await client.get(f"{path}?days={days}", headers=manager)
            assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_days"
    assert (await client.get("/manager", headers=staff)).status_code == 403
    assert (await client.get("/manager")).status_code == 401
    # A manager tablet is a staff tablet too: it calls the next customer like any other.
    assert (await client.get("/api/v1/queues/advice", headers=manager)).status_code == 200
    walk_in = await client.post("/api/v1/queues/advice/tickets", json={}, headers=manager)
    assert walk_in.status_code == 201
    called = await client.post("/api/v1/queues/advice/call-next", headers=manager)
    assert called.status_code == 200 and called.json()["id"] == walk_in.json()["ticket"]["id"]


async def test_a_new_store_has_an_empty_report_not_an_error(write_config, start_agent) -> None:
    agent = await start_agent(queue_config(write_config))
    async with httpx.AsyncClient(base_url=agent.base_url, timeout=20) as client:
        headers = await manager_headers(client, agent.components.config)
        report = (await client.get("/api/v1/manager/report?days=7", headers=headers)).json()
        totals = report["totals"]
        assert totals["entries"] == totals["joins"] == totals["ended"] == 0
        assert totals["joins_per_100_entries"] is None and totals["median_wait_s"] is None
        assert report["entries_by_hour"] == [[0] * 24] * 7
        page = await client.get("/manager?days=7", headers=headers)
        assert page.status_code == 200 and page.text.count("<svg") == 4
        # A wrong period on the page shows the default one rather than an error page.
        assert (await client.get("/manager?days=999", headers=headers)).status_code == 200
        rows = (await client.get("/api/v1/manager/report.csv?days=7", headers=headers)).text
        assert len(rows.strip().splitlines()) == 8  # the header and 7 days
