"""The message bus: reactions between services are events, not callbacks (DESIGN.md §11).

Events (wire events from `agent.core.events` and internal ones from `agent.core.messages`)
returned by a unit-of-work's work are handed to `emit` once their transaction is durable,
and dispatched in commit order by one worker task to every handler the table in
`agent.bootstrap.handlers` lists for their type. A handler failure is logged and counted
(`retail_edge_bus_handler_failures_total`) and never reaches the committer, nor stops the
other handlers. Commands (`agent.core.messages.Command`, or a parsed inbound message) have
exactly one handler, run in the sender's task by `handle`, whose result or error the sender
gets back.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from agent.metrics import Metrics

_LOGGER = logging.getLogger(__name__)

Handler = Callable[[Any], Awaitable[object]]
EventHandlers = Mapping[type, Sequence[Handler]]
CommandHandlers = Mapping[type, Handler]


class MessageBus:
    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics
        self._events: EventHandlers = {}
        self._commands: CommandHandlers = {}
        self._bound = False
        self._queue: list[tuple[Sequence[object], asyncio.Future[None]]] = []
        self._worker: asyncio.Task[None] | None = None

    def bind(self, events: EventHandlers, commands: CommandHandlers) -> None:
        """Install the handler table (once: bootstrap builds the services, then the table)."""
        if self._bound:
            raise RuntimeError("the message bus is already bound")
        self._events, self._commands, self._bound = events, commands, True

    # --- events ------------------------------------------------------------------------------

    def emit(self, events: Sequence[object]) -> asyncio.Future[None] | None:
        """Queue committed events for dispatch; the future is done once they were handled.

        None when no handler listens to any of them: the common case (queue transitions)
        costs nothing more than a dictionary look-up.
        """
        wanted = [event for event in events if self._events.get(type(event))]
        if not wanted:
            return None
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((wanted, done))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._dispatch(), name="message-bus")
        return done

    def in_handler(self) -> bool:
        """True inside an event handler (which must not wait for its own dispatch)."""
        return self._worker is not None and asyncio.current_task() is self._worker

    async def idle(self) -> None:
        """Wait until every event emitted so far has been handled (shutdown, tests)."""
        while self._worker is not None and not self._worker.done():
            await asyncio.shield(self._worker)

    async def _dispatch(self) -> None:
        try:
            while self._queue:
                events, done = self._queue[0]
                for event in events:
                    for handler in self._events.get(type(event), ()):
                        await self._run(handler, event)
                self._queue.pop(0)
                if not done.done():
                    done.set_result(None)
        finally:
            # Cancelled (shutdown): whoever waits for a dispatch must not wait forever.
            for _, done in self._queue:
                if not done.done():
                    done.cancel()
            self._queue.clear()

    async def _run(self, handler: Handler, event: object) -> None:
        try:
            await handler(event)
        except Exception:
            name = getattr(handler, "__qualname__", repr(handler))
            self._metrics.bus_handler_failures.labels(
                event=type(event).__name__, handler=name
            ).inc()
            _LOGGER.exception("handler %s failed on %s", name, type(event).__name__)

    # --- commands ----------------------------------------------------------------------------

    async def handle(self, command: object) -> Any:
        """Run the one handler of ``command`` now and return its result (errors propagate)."""
        handler = self._commands.get(type(command))
        if handler is None:
            raise LookupError(f"no handler for {type(command).__name__}")
        return await handler(command)
