"""NFC loyalty cards through nfcpy (PN532 over UART/I2C, ACR122U and other USB readers).

nfcpy's `connect()` blocks, so it runs in a worker thread; UIDs are handed to the event loop
with `call_soon_threadsafe`. Returning True from `on-connect` makes nfcpy hold the tag until
it is removed, which is the debounce for a card left on the reader: one tap, one reading.
The ACR122U needs the kernel's pn533 modules blacklisted (see docs/hardware.md).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from types import TracebackType
from typing import Any, Self

from agent.adapters.thread_bridge import ThreadBridge
from agent.core.ports import Clock
from agent.core.readings import NfcTap
from agent.errors import UserFacingError

_LOGGER = logging.getLogger(__name__)


class NfcpyReader:
    def __init__(
        self,
        path: str,
        clock: Clock,
        name: str | None = None,
        on_dropped: Callable[[str], None] | None = None,
    ) -> None:
        self.path = path
        self.name = name or f"nfc:{path}"
        self._clock = clock
        dropped = (lambda: on_dropped("nfc_queue_full")) if on_dropped else None
        self._bridge: ThreadBridge[NfcTap] = ThreadBridge(self.name, on_dropped=dropped)
        self._frontend: Any = None

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
        self._bridge.start(self._drive)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._bridge.stop()
        with contextlib.suppress(Exception):
            self._frontend.close()

    def readings(self) -> AsyncIterator[NfcTap]:
        return self._bridge.items()  # ends when the reader fails: the supervisor restarts it

    def _drive(self) -> None:
        def on_connect(tag: Any) -> bool:
            uid = bytes(tag.identifier).hex().upper()
            self._bridge.emit(NfcTap(uid, self.name, self._clock.monotonic()))
            return True  # hold until removed: a card left on the reader is one tap

        try:
            while not self._bridge.stopping.is_set():
                self._frontend.connect(
                    rdwr={"on-connect": on_connect},
                    terminate=self._bridge.stopping.is_set,
                )
        except Exception:
            _LOGGER.exception("NFC reader %s failed", self.path)
