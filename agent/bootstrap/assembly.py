"""`assemble`: the web app with every router and its server, around built components."""

from __future__ import annotations

import random

from agent.bootstrap.components import Components
from agent.bootstrap.wiring import build
from agent.config.model import AgentConfig
from agent.core.ports import Clock
from agent.daemon import AgentDaemon
from agent.web.alerts_api import alerts_router
from agent.web.app import create_app
from agent.web.board import board_router
from agent.web.context import WebContext
from agent.web.customer_api import customer_router
from agent.web.health import health_router
from agent.web.manager import manager_router
from agent.web.pages import pages_router
from agent.web.printer_api import printer_router
from agent.web.push_api import push_router
from agent.web.queue_extras_api import queue_extras_router
from agent.web.recognition_api import recognition_router
from agent.web.server import WebServer
from agent.web.staff_api import staff_router


def assemble(components: Components) -> AgentDaemon:
    """A ready daemon for these components: the web app with every router, and its server."""
    c = components
    web = WebContext.create(
        c.config,
        c.clock,
        c.metrics,
        c.hub,
        c.queues,
        c.staff,
        c.footfall.snapshot,
        c.footfall.hours,
        c.printing,
    )
    app = create_app(
        [
            health_router(c.health.report, c.metrics),
            customer_router(web),
            staff_router(web),
            queue_extras_router(web),
            pages_router(web),
            recognition_router(web, c.recognition),
            push_router(web, c.push),
            board_router(web),
            printer_router(web, c.printing),
            manager_router(web, c.reports),
            alerts_router(web, c.suggestions),
        ],
        c.metrics,
    )
    closed = c.metrics.http_connections_closed
    server = WebServer(
        app,
        c.config.http.bind,
        c.config.http.port,
        on_connection_closed=lambda reason: closed.labels(reason=reason).inc(),
    )
    return AgentDaemon(components, server)


def build_daemon(
    config: AgentConfig, *, clock: Clock | None = None, rng: random.Random | None = None
) -> AgentDaemon:
    """`build` then `assemble`: what `retail-edge run` and the demo start."""
    return assemble(build(config, clock=clock, rng=rng))
