"""Serve the ASGI app with uvicorn inside the agent's own event loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable

import uvicorn
from fastapi import FastAPI

from agent.errors import UserFacingError
from agent.web.connections import guarded_protocol

_LOGGER = logging.getLogger(__name__)
ACCEPTS_PER_WAKEUP = 128
LISTEN_QUEUE = 2048  # uvicorn's default backlog


class WebServer:
    def __init__(
        self,
        app: FastAPI,
        bind: str,
        port: int,
        *,
        on_connection_closed: Callable[[str], None] = lambda _reason: None,
    ) -> None:
        self._config = uvicorn.Config(
            app,
            host=bind,
            port=port,
            log_config=None,  # the agent's logging setup applies
            access_log=False,
            lifespan="off",
            # Off: uvicorn would believe X-Forwarded-For from FORWARDED_ALLOW_IPS (127.0.0.1
            # by default), i.e. from any local process. The client address is worked out
            # from [http] trusted_proxies in one place instead (agent/web/auth.py), and
            # cookies' Secure follows public_url, not the request scheme.
            proxy_headers=False,
            timeout_graceful_shutdown=3,
            # Header deadline and per-address cap (contract 8.3); h11 also bounds a request
            # line plus headers to 16 KiB.
            http=guarded_protocol(on_closed=on_connection_closed),
            # asyncio accepts up to `backlog` connections per wake-up before any of them runs
            # its protocol, so a burst of 1,100 waiting connections was accepted at once and
            # hit `EMFILE` under `ulimit -n 1024` before the per-address cap could close the
            # excess (tests/security/test_limits.py). 128 bounds that burst; the kernel's
            # queue of waiting connections is made deeper again in start().
            backlog=ACCEPTS_PER_WAKEUP,
        )
        self._server = uvicorn.Server(self._config)
        self._task: asyncio.Task[None] | None = None
        self.port = port

    async def start(self) -> None:
        """Bind (port 0 picks a free one) and serve in the background."""
        family = socket.AF_INET6 if ":" in self._config.host else socket.AF_INET
        # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY on accepted connections only
        # for sockets that say they are TCP; without it Nagle + delayed ACK add ~40 ms to
        # every response.
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self._config.host, self._config.port))
        except OSError as exc:
            sock.close()
            raise UserFacingError(
                f"cannot listen on {self._config.host}:{self._config.port}: {exc.strerror} "
                "(is another agent running? change [http] port)"
            ) from exc
        self.port = sock.getsockname()[1]
        self._config.load()
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.01)
        # asyncio listened with the per-wake-up accept count as the kernel backlog too; a
        # burst of honest phones (or 400 concurrent pairing attempts) would overflow a queue
        # that short and see resets. listen() again only deepens the kernel's queue.
        sock.listen(LISTEN_QUEUE)
        _LOGGER.info("HTTP listening on %s:%d", self._config.host, self.port)

    async def stop(self) -> None:
        if self._task is None:
            return
        self._server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
