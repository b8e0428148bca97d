"""Ports: one Protocol per thing outside the core. Adapters and simulators implement them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self, TypeVar, runtime_checkable

from agent.core.printing import TicketPrint
from agent.core.push import PushMessage, PushResult
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


@runtime_checkable
class BatchedReadingSource(ReadingSource[T_co], Protocol[T_co]):
    """A source that can also hand over, at once, every reading that is already waiting
    (a broker socket delivers many advertisements per wake-up under load). The supervisor
    reads such a source by `batches()`; `readings()` still yields them one by one."""

    def batches(self) -> AsyncIterator[Sequence[T_co]]: ...


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


class PushSender(Protocol):
    """Web Push out to a browser's push service (RFC 8030/8291/8292): the real adapter posts
    over HTTPS to allow-listed hosts only; tests point it at a push endpoint they serve."""

    @property
    def public_key(self) -> str:
        """The VAPID public key, base64url of the uncompressed P-256 point."""
        ...

    async def send(self, message: PushMessage) -> PushResult:
        """One attempt; never raises for what the network or the push service does."""
        ...

    async def aclose(self) -> None: ...


class TicketPrinter(Protocol):
    """A counter's receipt printer: ESC/POS over the network (port 9100) or USB, or a test's
    simulated printer on the same port. Printing is one attempt with a deadline."""

    name: str  # where it prints, for logs and the tablet ("tcp://10.0.0.7:9100")

    async def print_ticket(self, ticket: TicketPrint) -> None:
        """Print one ticket; raises OSError (or TimeoutError) if the printer did not take it."""
        ...
