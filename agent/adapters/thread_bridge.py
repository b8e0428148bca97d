"""Hands readings from a blocking driver thread to the event loop.

nfcpy's `connect()` and OpenCV's `read()` block, so those adapters run their driver loop in
a thread. This is the part they share: a bounded queue on the loop side (a reading that does
not fit is dropped and counted, never blocks the driver), a stop flag the driver polls, and
an end-of-stream marker so `readings()` returns and the supervisor can restart the source.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Callable
from typing import Generic, TypeVar

T = TypeVar("T")
_LOGGER = logging.getLogger(__name__)
QUEUE_SIZE = 64


class ThreadBridge(Generic[T]):
    def __init__(
        self,
        name: str,
        queue_size: int = QUEUE_SIZE,
        on_dropped: Callable[[], None] | None = None,
    ) -> None:
        self.name = name
        self._on_dropped = on_dropped  # e.g. a metrics counter: drops must be visible
        self.stopping = threading.Event()
        self.dropped = 0
        self._limit = queue_size
        # Unbounded underneath, bounded by _put: the end marker must always fit.
        self._queue: asyncio.Queue[T | None] = asyncio.Queue()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self, driver: Callable[[], None]) -> None:
        """Run ``driver`` in a daemon thread; when it returns (or raises) the stream ends."""
        self._loop = asyncio.get_running_loop()

        def run() -> None:
            try:
                driver()
            except Exception:
                _LOGGER.exception("%s: driver thread failed", self.name)
            finally:
                self.emit(None)

        self._thread = threading.Thread(target=run, name=self.name, daemon=True)
        self._thread.start()

    async def stop(self, join_timeout_s: float = 5.0) -> None:
        self.stopping.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, join_timeout_s)

    def emit(self, item: T | None) -> None:
        """Called from the driver thread; ``None`` ends the stream."""
        if self._loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop may be closing
            self._loop.call_soon_threadsafe(self._put, item)

    async def items(self) -> AsyncIterator[T]:
        while True:
            item = await self._queue.get()
            if item is None:
                return
            yield item

    def _put(self, item: T | None) -> None:
        if item is not None and self._queue.qsize() >= self._limit:
            self.dropped += 1
            if self._on_dropped is not None:
                self._on_dropped()
            return
        self._queue.put_nowait(item)
