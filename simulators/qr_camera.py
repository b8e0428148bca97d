"""A simulated QR camera: draws codes into frames so the real decoder runs on them.

`show(payload, frames=n)` puts a code in front of the camera for n frames; otherwise the
frames are an empty shop counter (grey with noise). Distortions make the benchmark sets.

OpenCV is imported only by the distortions that need it (the benchmark's and tests' frame
sets, `write_sequence`): the live camera runs inside the agent for the demo and the soak,
where OpenCV's libraries would add ~16 MB of resident memory that a store with this
simulated camera would not have. Its slight tilt is drawn with numpy instead.
"""

from __future__ import annotations

import random
import threading
from collections import deque
from pathlib import Path

import numpy as np
import segno

from agent.adapters.qr_decoders import Frame


def qr_image(payload: str, module_px: int = 6) -> Frame:
    code = segno.make_qr(payload, error="m")
    matrix = np.array([[0 if dark else 255 for dark in row] for row in code.matrix], np.uint8)
    image = np.kron(matrix, np.ones((module_px, module_px), np.uint8))
    border = 4 * module_px  # the quiet zone
    return np.pad(image, border, constant_values=255)


def scene(
    payload: str | None,
    size: tuple[int, int] = (640, 480),
    *,
    rng: random.Random,
    module_px: int = 5,
    rotate_deg: float = 0.0,
    perspective: float = 0.0,
    blur: float = 0.0,
    noise: float = 0.0,
) -> Frame:
    width, height = size
    frame = np.full((height, width), rng.randint(90, 150), np.uint8)
    if payload is not None:
        code = qr_image(payload, module_px)
        h, w = code.shape
        x = rng.randint(0, max(0, width - w))
        y = rng.randint(0, max(0, height - h))
        frame[y : y + h, x : x + w] = code[: height - y, : width - x]
        center = (x + w / 2, y + h / 2)
        if rotate_deg or perspective or blur:
            import cv2
        if rotate_deg:
            matrix = cv2.getRotationMatrix2D(center, rotate_deg, 1.0)
            frame = cv2.warpAffine(frame, matrix, (width, height), borderValue=120)  # type: ignore[assignment]
        if perspective:
            src = np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]], np.float32)
            d = perspective * w
            jitter = [[rng.uniform(-d, d), rng.uniform(-d, d)] for _ in range(4)]
            dst = src + np.array(jitter, np.float32)
            warp = cv2.getPerspectiveTransform(src, dst)
            frame = cv2.warpPerspective(frame, warp, (width, height), borderValue=120)  # type: ignore[assignment]
    if blur:
        import cv2

        frame = cv2.GaussianBlur(frame, (0, 0), blur)  # type: ignore[assignment]
    if noise:
        noisy = frame.astype(np.float32) + np.random.default_rng(rng.randrange(2**32)).normal(
            0, noise, frame.shape
        )
        frame = np.clip(noisy, 0, 255).astype(np.uint8)
    return frame


def tilted(image: Frame, degrees: float, fill: int) -> Frame:
    """The image turned about its centre, nearest pixel, corners outside it filled: what
    cv2.warpAffine does for `scene(rotate_deg=...)`, without loading OpenCV."""
    height, width = image.shape
    turn = np.deg2rad(degrees)
    ys, xs = np.indices((height, width), dtype=np.float32)
    dx, dy = xs - width / 2, ys - height / 2
    source_x = np.rint(width / 2 + np.cos(turn) * dx - np.sin(turn) * dy).astype(np.intp)
    source_y = np.rint(height / 2 + np.sin(turn) * dx + np.cos(turn) * dy).astype(np.intp)
    inside = (source_x >= 0) & (source_x < width) & (source_y >= 0) & (source_y < height)
    out = np.full_like(image, fill)
    out[inside] = image[source_y[inside], source_x[inside]]
    return out


def write_sequence(folder: Path, frames: list[Frame]) -> str:
    """PNG files `frame_000.png`, ... and the pattern cv2.VideoCapture opens them with."""
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    for index, frame in enumerate(frames):
        cv2.imwrite(str(folder / f"frame_{index:03d}.png"), frame)
    return str(folder / "frame_%03d.png")


class SimulatedCamera:
    """A FrameSource: empty frames, and codes when someone shows one."""

    def __init__(
        self, rng: random.Random | None = None, size: tuple[int, int] = (640, 480)
    ) -> None:
        self._rng = rng or random.Random(9)
        self._size = size
        self._shown: deque[str] = deque()
        self._lock = threading.Lock()
        self._closed = threading.Event()

    def show(self, payload: str, frames: int = 5) -> None:
        with self._lock:
            self._shown.extend([payload] * frames)

    def read(self) -> Frame | None:
        if self._closed.is_set():
            return None
        with self._lock:
            payload = self._shown.popleft() if self._shown else None
        frame = scene(None, self._size, rng=self._rng)
        if payload is not None:
            self._hold_up(frame, payload)
        return frame

    def _hold_up(self, frame: Frame, payload: str) -> None:
        """A pass held a little askew somewhere in the frame, its corners kept in view."""
        background = int(frame[0, 0])
        code = qr_image(payload, module_px=5)
        margin = code.shape[0] // 8  # room for the corners of a code turned by up to 8°
        patch = tilted(
            np.pad(code, margin, constant_values=background), self._rng.uniform(-8, 8), background
        )
        h, w = patch.shape
        y = self._rng.randint(0, max(0, frame.shape[0] - h))
        x = self._rng.randint(0, max(0, frame.shape[1] - w))
        frame[y : y + h, x : x + w] = patch[: frame.shape[0] - y, : frame.shape[1] - x]

    def close(self) -> None:
        self._closed.set()
