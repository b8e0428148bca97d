"""A QR camera: frames from OpenCV (any cv2.VideoCapture source) decoded in a worker thread.

Reading and decoding block, so they run in a thread; decoded texts are handed to the event
loop with `call_soon_threadsafe`. The same text seen again within `debounce_s` is not emitted
again (a pass held in front of the camera). Payloads are never logged: until the core has
verified them they may be anything, including someone's personal data.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from types import TracebackType
from typing import Self

from agent.adapters.qr_decoders import DECODERS, Decoder, Frame
from agent.adapters.thread_bridge import ThreadBridge
from agent.core.ports import Clock, FrameSource
from agent.core.readings import QrScan

_LOGGER = logging.getLogger(__name__)


class OpenCvFrames:
    """FrameSource over cv2.VideoCapture: an index ("0"), /dev/videoN, rtsp://..., a video
    file, or an image-sequence pattern such as `frames/img_%03d.png`."""

    def __init__(self, source: str) -> None:
        # Imported here, not with the module: OpenCV's libraries are ~16 MB of the agent's
        # resident memory (benchmarks/RESULTS.md, soak), and only a real camera needs them.
        import cv2

        if source.isdigit():
            self._capture = cv2.VideoCapture(int(source))
        elif "%" in source:
            self._capture = cv2.VideoCapture(source, cv2.CAP_IMAGES)
        else:
            self._capture = cv2.VideoCapture(source)
        if not self._capture.isOpened():
            raise OSError(f"cannot open camera source {source!r}")

    def read(self) -> Frame | None:
        ok, frame = self._capture.read()
        return frame if ok else None  # type: ignore[return-value]

    def close(self) -> None:
        self._capture.release()


class QrCamera:
    def __init__(
        self,
        frames: Callable[[], FrameSource],
        clock: Clock,
        *,
        decoder: str = "zxing",
        name: str = "qr:camera",
        # Long enough that a pass held up while the customer talks is one reading (each
        # reading of a pass during a visit opens the profile on the tablets again).
        debounce_s: float = 10.0,
        max_fps: float = 15.0,
        on_dropped: Callable[[str], None] | None = None,
    ) -> None:
        self.name = name
        self._open_frames = frames
        self._decode: Decoder = DECODERS[decoder]
        self._clock = clock
        self._debounce = debounce_s
        self._min_interval = 1.0 / max_fps if max_fps > 0 else 0.0
        dropped = (lambda: on_dropped("qr_queue_full")) if on_dropped else None
        self._bridge: ThreadBridge[QrScan] = ThreadBridge(name, on_dropped=dropped)
        self._source: FrameSource | None = None

    async def __aenter__(self) -> Self:
        self._source = await asyncio.to_thread(self._open_frames)
        self._bridge.start(self._drive)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._bridge.stop()
        if self._source is not None:
            self._source.close()

    def readings(self) -> AsyncIterator[QrScan]:
        return self._bridge.items()  # ends when the source ends (a file) or fails

    def _drive(self) -> None:
        seen: dict[str, float] = {}
        stopping = self._bridge.stopping
        try:
            while not stopping.is_set() and self._source is not None:
                started = time.monotonic()
                frame = self._source.read()
                if frame is None:
                    break
                now = self._clock.monotonic()
                for text in self._decode(frame):  # type: ignore[arg-type]
                    if now - seen.get(text, -1e9) < self._debounce:
                        continue
                    seen[text] = now
                    self._bridge.emit(QrScan(text, self.name, now))
                if len(seen) > 256:  # bounded: forget old payloads
                    seen = {t: at for t, at in seen.items() if now - at < self._debounce}
                spare = self._min_interval - (time.monotonic() - started)
                if spare > 0:
                    stopping.wait(spare)
        except Exception:
            _LOGGER.exception("camera %s failed", self.name)
