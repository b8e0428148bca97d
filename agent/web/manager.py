"""The manager view (extension, issue 14): `/manager` on a manager tablet, its JSON
(`GET /api/v1/manager/report?days=N`) and CSV (`GET /api/v1/manager/report.csv?days=N`).

Only tablets paired with `--role manager` get in: 401 without a token, 403 for a plain staff
tablet or a display. Read-only, so the tablet's cookie is enough (the CSV is a plain link).
"""

from __future__ import annotations

import csv
import io
from dataclasses import fields
from html import escape

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from agent.core.reports import DayFigures, ManagerReport
from agent.services.reports import ReportService
from agent.web.auth import STAFF_AUTH, manager_device
from agent.web.context import WebContext
from agent.web.errors import ApiError
from agent.web.i18n import fill, strings
from agent.web.manager_charts import Series, bar_chart, heatmap
from agent.web.rendering import (
    Markup,
    html_page,
    lang_switch,
    message_page,
    page_locale,
    remember_locale,
    render,
)

PERIODS = (7, 30)


# The JSON is the core's report as it is (FastAPI documents the dataclasses in the OpenAPI
# schema); the CSV has one row per day with the same names.
CSV_COLUMNS = tuple(field.name for field in fields(DayFigures))


def manager_router(ctx: WebContext, reports: ReportService) -> APIRouter:
    router = APIRouter()

    async def report_for(days: str) -> ManagerReport:
        # Checked here rather than by a typed query parameter: the bound is the store's
        # ticket retention, and every refusal is one 422 with the contract's envelope.
        if not days.isdigit() or not 1 <= int(days) <= reports.max_days:
            raise ApiError(422, "invalid_days", f"days must be 1 to {reports.max_days}.")
        return await reports.report(int(days))

    @router.get("/api/v1/manager/report", dependencies=STAFF_AUTH)
    async def report(request: Request, days: str = "30") -> ManagerReport:
        await manager_device(request, ctx)
        return await report_for(days)

    @router.get(
        "/api/v1/manager/report.csv",
        dependencies=STAFF_AUTH,
        response_class=Response,
        responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
    )
    async def report_csv(request: Request, days: str = "30") -> Response:
        await manager_device(request, ctx)
        figures = await report_for(days)
        name = f"manager-report-{figures.first_day}-{figures.last_day}.csv"
        return Response(
            to_csv(figures),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="{name}"',
                "Cache-Control": "no-store",
            },
        )

    @router.get("/manager", include_in_schema=False)
    async def page(request: Request, days: str = "30") -> HTMLResponse:
        locale = page_locale(request)
        words = strings(locale)
        try:
            await manager_device(request, ctx)
            figures = await report_for(days)
        except ApiError as exc:
            if exc.status == 422:
                figures = await reports.report(min(30, reports.max_days))
            else:
                heading, text = words["manager_only_title"], words["manager_only_body"]
                return message_page(ctx, locale, "manager-only", heading, text, exc.status)
        response = html_page(
            locale,
            f"{words['manager_title']} · {ctx.config.store.name}",
            "manager",
            manager_content(ctx, request, locale, figures, reports.max_days),
        )
        remember_locale(request, response)
        return response

    return router


def to_csv(report: ManagerReport) -> str:
    """One row per local day, the columns of the JSON's `daily` (rates as shares 0..1)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for day in report.daily:
        writer.writerow("" if (v := getattr(day, c)) is None else v for c in CSV_COLUMNS)
    return out.getvalue()


def _minutes(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 60, 1)


def _percent(share: float | None, none: str) -> str:
    return none if share is None else f"{100 * share:.0f} %"


def manager_content(
    ctx: WebContext, request: Request, locale: str, report: ManagerReport, max_days: int
) -> Markup:
    words = strings(locale)
    none = words["manager_none"]
    t = report.totals
    labels = [d.day for d in report.daily]
    links = []
    for n in (p for p in PERIODS if p <= max_days):
        marks = (
            'class="badge is-current" aria-current="page"' if n == report.days else 'class="badge"'
        )
        text = escape(fill(words["manager_days"], n=n))
        links.append(f'<a {marks} href="/manager?days={n}">{text}</a>')
    periods = "".join(links)
    wait = _minutes(t.median_wait_s)
    tiles = [
        ("entries", words["manager_entries"], str(t.entries)),
        ("joins", words["manager_joins"], str(t.joins)),
        (
            "joins-per-100",
            words["manager_joins_per_100"],
            none if t.joins_per_100_entries is None else f"{t.joins_per_100_entries:.1f}",
        ),
        ("median-wait", words["manager_median_wait"], none if wait is None else f"{wait:g} min"),
        ("within", words["manager_within"], _percent(t.within_estimate, none)),
        ("no-show", words["manager_no_show"], _percent(t.no_show_rate, none)),
        ("walkout", words["manager_walkout"], _percent(t.walkout_rate, none)),
        ("left", words["manager_left"], _percent(t.left_rate, none)),
        (
            "customers",
            words["manager_new_returning"],
            f"{t.new_customers} / {t.returning_customers}",
        ),
    ]
    tile_html = "".join(
        f'<div class="tile" id="tile-{key}"><dt>{escape(label)}</dt><dd>{escape(value)}</dd></div>'
        for key, label, value in tiles
    )
    weekdays = words["manager_weekdays"].split(",")
    within = [None if d.within_estimate is None else 100 * d.within_estimate for d in report.daily]
    return render(
        "manager.html",
        locale,
        {
            "store": ctx.config.store.name,
            "lang_switch": lang_switch(request, locale),
            "periods": Markup(periods),
            "csv_url": f"/api/v1/manager/report.csv?days={report.days}",
            "range": fill(
                words["manager_range"],
                first=report.first_day,
                last=report.last_day,
                zone=report.timezone,
            ),
            "tiles": Markup(tile_html),
            "heatmap": heatmap(
                "chart-heatmap", words["manager_heatmap"], report.entries_by_hour, weekdays
            ),
            "waits": bar_chart(
                "chart-waits",
                words["manager_waits"],
                labels,
                [
                    Series(
                        words["manager_median_wait"],
                        "#1852c4",
                        [_minutes(d.median_wait_s) for d in report.daily],
                    )
                ],
            ),
            "accuracy": bar_chart(
                "chart-accuracy",
                words["manager_accuracy"],
                labels,
                [Series(words["manager_within"], "#2e8b57", within)],
                unit="%",
                top=100,
            ),
            "customers": bar_chart(
                "chart-customers",
                words["manager_customers"],
                labels,
                [
                    Series(
                        words["manager_new"], "#e07a1f", [d.new_customers for d in report.daily]
                    ),
                    Series(
                        words["manager_returning"],
                        "#6a4fb3",
                        [d.returning_customers for d in report.daily],
                    ),
                ],
            ),
        },
    )
