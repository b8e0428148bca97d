"""Build the ASGI application from explicitly passed collaborators."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from agent import __version__
from agent.metrics import Metrics
from agent.web.body_limit import MAX_BODY_BYTES, BodyLimit
from agent.web.errors import install_error_handlers
from agent.web.openapi import install_truthful_openapi
from agent.web.response_policy import ResponsePolicy


def create_app(routers: list[APIRouter], metrics: Metrics) -> FastAPI:
    app = FastAPI(
        title="retail-edge agent",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    install_error_handlers(app)
    # Added first, so the response policy (metrics, default headers) wraps it.
    app.add_middleware(BodyLimit, max_bytes=MAX_BODY_BYTES)
    app.add_middleware(ResponsePolicy, metrics=metrics)

    for router in routers:
        app.include_router(router)
    install_truthful_openapi(app)
    return app
