"""Build the ASGI application from explicitly passed collaborators."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, FastAPI, Request, Response

from agent import __version__
from agent.metrics import Metrics
from agent.web.body_limit import MAX_BODY_BYTES, BodyLimit
from agent.web.errors import install_error_handlers
from agent.web.openapi import install_truthful_openapi

RequestHandler = Callable[[Request], Awaitable[Response]]

# Sent with every answer that does not set its own (the HTML pages set a page policy that
# allows their own scripts; see agent/web/rendering.py): a JSON or text answer loads nothing, is
# never framed, never sniffed into another type and never leaks its URL in a Referer.
DEFAULT_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def create_app(routers: list[APIRouter], metrics: Metrics) -> FastAPI:
    app = FastAPI(
        title="retail-edge agent",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    install_error_handlers(app)
    # Added before the middleware below, so that one (metrics, security headers) wraps it.
    app.add_middleware(BodyLimit, max_bytes=MAX_BODY_BYTES)

    @app.middleware("http")
    async def measure(request: Request, call_next: RequestHandler) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        # The route's template (/api/v1/tickets/{ticket_id}), never the raw path: ids and
        # tokens must not become metric labels.
        route = request.scope.get("route")
        name = getattr(route, "path", "unmatched")
        metrics.http_requests.labels(route=name, status=str(response.status_code)).observe(
            time.perf_counter() - started
        )
        for header, value in DEFAULT_SECURITY_HEADERS.items():
            response.headers.setdefault(header, value)
        if request.url.path.startswith("/api/"):
            # API answers carry tickets, secrets and tokens: no shared cache may keep them.
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    for router in routers:
        app.include_router(router)
    install_truthful_openapi(app)
    return app
