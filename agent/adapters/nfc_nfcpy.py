"""NFC loyalty cards through nfcpy (PN532 over UART/I2C, ACR122U and other USB readers).

nfcpy's `connect()` blocks, so it runs in a worker thread; UIDs are handed to the event loop
with `call_soon_threadsafe`. Returning True from `on-connect` makes nfcpy hold the tag until
it is removed, which is the debounce for a card left on the reader: one tap, one reading.
The ACR122U needs the kernel's pn533 modules blacklisted (see docs/hardware.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any, Self

from agent.core.ports import Clock
from agent.core.readings import NfcTap
from agent.errors import UserFacingError

_LOGGER = logging.getLogger(__name__)
QUEUE_SIZE = 64


class NfcpyReader:
    def __init__(self, path: str, clock: Clock, name: str | None = None) -> None:
        self.path = path
        self.name = name or f"nfc:{path}"
        self._clock = clock
        self._queue: asyncio.Queue[NfcTap | None] = asyncio.Queue(QUEUE_SIZE)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._frontend: Any = None
        self.dropped = 0

    async def __aenter__(self) -> Self:
        try:
            import nfc
        except ImportError as exc:
            raise UserFacingError(
                "the nfcpy adapter needs the `nfcpy` package (pip install retail-edge[nfc])"
            ) from exc
        try:
            self._frontend = nfc.ContactlessFrontend(self.path)
        except OSError as exc:
            raise UserFacingError(f"cannot open NFC reader {self.path!r}: {exc}") from exc
        loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._run, args=(loop,), name=self.name, daemon=True)
        self._thread.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stopping.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 5)
        with contextlib.suppress(Exception):
            self._frontend.close()

    async def readings(self) -> AsyncIterator[NfcTap]:
        while True:
            tap = await self._queue.get()
            if tap is None:
                return  # the reader failed: the supervisor restarts it
            yield tap

    def _run(self, loop: asyncio.AbstractEventLoop) -> None:
        def on_connect(tag: Any) -> bool:
            uid = bytes(tag.identifier).hex().upper()
            loop.call_soon_threadsafe(
                self._deliver, NfcTap(uid, self.name, self._clock.monotonic())
            )
            return True  # hold until removed: a card left on the reader is one tap

        try:
            while not self._stopping.is_set():
                self._frontend.connect(
                    rdwr={"on-connect": on_connect},
                    terminate=self._stopping.is_set,
                )
        except Exception:
            _LOGGER.exception("NFC reader %s failed", self.path)
        finally:
            loop.call_soon_threadsafe(self._deliver, None)

    def _deliver(self, tap: NfcTap | None) -> None:
        try:
            self._queue.put_nowait(tap)
        except asyncio.QueueFull:
            self.dropped += 1
