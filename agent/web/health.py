"""`GET /healthz` and `GET /metrics` (contract §3)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST

from agent.metrics import Metrics
from agent.services.health import HealthReport

HealthProbe = Callable[[], Awaitable[HealthReport]]


def health_router(probe: HealthProbe, metrics: Metrics) -> APIRouter:
    router = APIRouter()

    @router.get("/healthz")
    async def healthz() -> dict[str, object]:
        report = await probe()
        body: dict[str, object] = {"status": "ok", "mqtt": report.mqtt, "outbox": report.outbox}
        if not report.storage_ok:
            body["status"] = "degraded"
            body["storage"] = report.storage_problem
        return body

    @router.get("/metrics")
    async def prometheus() -> Response:
        await probe()  # refreshes the outbox gauges
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    return router
