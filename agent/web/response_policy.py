"""Every answer's default headers and its latency metric, as a pure ASGI middleware.

It was Starlette's `BaseHTTPMiddleware` (`@app.middleware("http")`), which runs each request's
app in a task of its own and pipes the response through memory streams: 10 % of the samples
of a join under load, and its allocations fed the garbage collector that set the joins' p99
(issue 17). Here the only work per request is a wrapper around `send` that edits the start
message's headers and observes the histogram once the status is known.

The latency observed is the time to the response's start (status and headers), as before:
a stream's body may run for hours.
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agent.metrics import Metrics

# Sent with every answer that does not set its own (the HTML pages set a page policy that
# allows their own scripts; see agent/web/rendering.py): a JSON or text answer loads nothing,
# is never framed, never sniffed into another type and never leaks its URL in a Referer.
DEFAULT_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
_DEFAULTS = [
    (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in DEFAULT_SECURITY_HEADERS.items()
]
# API answers carry tickets, secrets and tokens: no shared cache may keep them.
_NO_STORE = (b"cache-control", b"no-store")


class ResponsePolicy:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self._app = app
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = time.perf_counter()
        api = scope["path"].startswith("/api/")

        async def send_with_policy(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in _DEFAULTS if h[0] not in present)
                if api and _NO_STORE[0] not in present:
                    headers.append(_NO_STORE)
                message = {**message, "headers": headers}
                # The route's template (/api/v1/tickets/{ticket_id}), never the raw path:
                # ids and tokens must not become metric labels.
                name = getattr(scope.get("route"), "path", "unmatched")
                self._metrics.http_requests.labels(
                    route=name, status=str(message["status"])
                ).observe(time.perf_counter() - started)
            await send(message)

        await self._app(scope, receive, send_with_policy)
