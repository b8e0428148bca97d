"""The manager view's figures on hand-made rows: local days across a DST change, new vs
returning customers, rates and the estimate's accuracy."""

from __future__ import annotations

from datetime import UTC, datetime

from agent.core.reports import Period, TicketRow, VisitRow, build_report


def s(text: str) -> float:
    return datetime.fromisoformat(text).astimezone(UTC).timestamp()


def test_days_follow_the_store_clock_across_a_dst_change() -> None:
    # Paris moves to summer time on 2026-03-29: that day is 23 hours long.
    period = Period.ending(datetime(2026, 3, 30, 12, tzinfo=UTC), 3, "Europe/Paris")
    tickets = [
        TicketRow(s("2026-03-28T22:59:00Z"), None, "left", "customer", None, None),  # 23:59 on 28
        TicketRow(s("2026-03-28T23:30:00Z"), s("2026-03-28T23:40:00Z"), "served", None, 300, 900),
        TicketRow(s("2026-03-29T21:59:00Z"), s("2026-03-29T22:09:00Z"), "no_show", None, 0, 60),
        TicketRow(s("2026-03-29T22:30:00Z"), s("2026-03-29T22:50:00Z"), "served", None, 0, 60),
        TicketRow(s("2026-03-30T08:00:00Z"), None, "left", "walked_out", None, None),
    ]
    report = build_report(period, [("2026-03-29T10", 7), ("2026-03-31T10", 99)], tickets, [])
    by_day = {d.day: d for d in report.daily}
    assert [d.day for d in report.daily] == ["2026-03-28", "2026-03-29", "2026-03-30"]
    assert [d.joins for d in report.daily] == [1, 2, 2]
    assert by_day["2026-03-29"].median_wait_s == 600
    assert by_day["2026-03-29"].within_estimate == 0.5  # 600 s in [300, 900]; not in [0, 60]
    assert by_day["2026-03-29"].estimate_error_s == (0 + 570) / 2
    assert report.entries_by_hour[6][10] == 7 and report.totals.entries == 7  # a Sunday
    t = report.totals
    assert (t.ended, t.no_show_rate, t.walkout_rate, t.left_rate) == (5, 0.2, 0.2, 0.2)
    assert t.joins_per_100_entries == 100 * 5 / 7
    assert t.median_wait_s == 600 and t.p90_wait_s == 1200  # waits 600, 600, 1200


def test_new_and_returning_customers() -> None:
    period = Period.ending(datetime(2026, 3, 20, 12, tzinfo=UTC), 2, "UTC")
    first_ever = s("2026-02-01T10:00:00Z")
    visits = [
        VisitRow("old", s("2026-03-20T09:00:00Z"), first_ever),  # returning both days' sense
        VisitRow("new", s("2026-03-19T09:00:00Z"), s("2026-03-19T09:00:00Z")),
        VisitRow("new", s("2026-03-19T15:00:00Z"), s("2026-03-19T09:00:00Z")),  # same day again
        VisitRow("new", s("2026-03-20T09:00:00Z"), s("2026-03-19T09:00:00Z")),  # came back
    ]
    report = build_report(period, [], [], visits)
    assert [(d.new_customers, d.returning_customers) for d in report.daily] == [(1, 0), (0, 2)]
    assert (report.totals.new_customers, report.totals.returning_customers) == (1, 1)
    assert report.totals.median_wait_s is None and report.totals.no_show_rate is None
