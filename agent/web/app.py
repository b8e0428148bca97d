"""Build the ASGI application from explicitly passed collaborators."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from agent import __version__
from agent.web.errors import install_error_handlers


def create_app(routers: list[APIRouter]) -> FastAPI:
    app = FastAPI(
        title="retail-edge agent",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    install_error_handlers(app)
    for router in routers:
        app.include_router(router)
    return app
