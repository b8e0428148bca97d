"""A simulated NFC reader: `tap(uid)` delivers exactly what a real card on the reader would."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Self

from agent.core.ports import Clock
from agent.core.readings import NfcTap


class SimulatedNfcReader:
    def __init__(self, clock: Clock, name: str = "nfc:simulated") -> None:
        self.name = name
        self._clock = clock
        self._queue: asyncio.Queue[NfcTap] = asyncio.Queue()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    def tap(self, uid: str) -> None:
        self._queue.put_nowait(NfcTap(uid.upper(), self.name, self._clock.monotonic()))

    async def readings(self) -> AsyncIterator[NfcTap]:
        while True:
            yield await self._queue.get()
