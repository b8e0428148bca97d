"""HTML pages: join (/j), ticket (/t), window screen (/window), staff tablet (/staff).

Placeholder router until the pages land; the JSON API above is complete without them.
"""

from __future__ import annotations

from fastapi import APIRouter

from agent.web.context import WebContext


def pages_router(ctx: WebContext) -> APIRouter:
    del ctx
    return APIRouter()
