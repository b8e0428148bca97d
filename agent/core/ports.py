"""Ports: one Protocol per thing outside the core. Adapters and simulators implement them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self, TypeVar

from agent.core.readings import EidSighting, NfcTap, QrScan

T_co = TypeVar("T_co", covariant=True)


class Clock(Protocol):
    """Where time comes from. Tests pass a fake one and advance it instead of sleeping."""

    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards (for intervals and timeouts)."""
        ...


class ReadingSource(Protocol[T_co]):
    """A device adapter (or its simulator): an async context manager that, while entered,
    yields readings. Reconnection and restarts are the supervisor's job, not the adapter's."""

    name: str

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def readings(self) -> AsyncIterator[T_co]: ...


BleSource = ReadingSource[EidSighting]
NfcSource = ReadingSource[NfcTap]
QrSource = ReadingSource[QrScan]


class FrameSource(Protocol):
    """Camera frames for the QR reader: `cv2.VideoCapture` or a simulator that draws codes.

    Blocking: called from the camera's worker thread, never from the event loop. A frame is
    any object the configured decoder accepts (a numpy image for OpenCV-based sources)."""

    def read(self) -> object | None:
        """The next frame, or None when the source has ended or failed."""
        ...

    def close(self) -> None: ...
