"""A real image sequence through the real camera adapter and decoder, then the pass check."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent.adapters.qr_opencv import OpenCvFrames, QrCamera
from agent.core.clock import SystemClock
from agent.core.passes import sign_pass, verify_pass
from simulators.qr_camera import scene, write_sequence

CHAIN = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
PUBLIC = CHAIN.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
NOW = 1_800_000_000
REPO = Path(__file__).resolve().parents[2]


async def read_all(pattern: str, decoder: str) -> list[str]:
    camera = QrCamera(lambda: OpenCvFrames(pattern), SystemClock(), decoder=decoder, max_fps=0)
    async with camera:
        return [scan.payload async for scan in camera.readings()]


@pytest.mark.parametrize("decoder", ["zxing", "pyzbar"])
async def test_only_the_valid_pass_recognises_a_customer(tmp_path: Path, decoder: str) -> None:
    rng = random.Random(4)
    valid = sign_pass("c-123", NOW + 3600, CHAIN)
    expired = sign_pass("c-124", NOW - 60, CHAIN)
    forged = sign_pass("c-125", NOW + 3600, Ed25519PrivateKey.generate())
    other = "https://example.com/menu"
    shown = [None, valid, valid, None, expired, None, forged, other, None, valid]
    pattern = write_sequence(tmp_path / "frames", [scene(p, rng=rng) for p in shown])
    payloads = await read_all(pattern, decoder)
    # Debounced: the valid pass held up for several frames is read once.
    assert sorted(payloads) == sorted([valid, expired, forged, other])
    customers = [verify_pass(p, PUBLIC, NOW) for p in payloads]
    assert [c for c in customers if c is not None] == ["c-123"]


async def test_moderately_distorted_frames_still_decode_with_zxing(tmp_path: Path) -> None:
    rng = random.Random(8)
    payloads = [sign_pass(f"c-{n}", NOW + 3600, CHAIN) for n in range(10)]
    frames = [
        scene(p, (1280, 720), rng=rng, module_px=5, rotate_deg=rng.uniform(-15, 15),
              perspective=0.08, blur=0.8, noise=6)
        for p in payloads
    ]  # fmt: skip
    decoded = await read_all(write_sequence(tmp_path / "distorted", frames), "zxing")
    assert len(set(decoded) & set(payloads)) >= 9


async def test_a_missing_camera_is_a_clear_error() -> None:
    with pytest.raises(OSError, match="cannot open camera source"):
        OpenCvFrames("/nonexistent/video.mp4")


# Held up askew by the simulated camera, read through the real adapter and decoder, in a
# process of its own so that no other test's import of OpenCV hides one made here.
SIMULATED_CAMERA_RUN = """
import asyncio, random, sys
from agent.adapters.qr_opencv import QrCamera
from agent.core.clock import SystemClock
import agent.bootstrap, agent.daemon
from simulators.qr_camera import SimulatedCamera

async def main():
    camera = SimulatedCamera(random.Random(5))
    shown = [f"https://shop.example/pass/{n}-{'x' * 40}" for n in range(40)]
    for text in shown:
        camera.show(text, frames=1)
    read = []
    async with QrCamera(lambda: camera, SystemClock(), max_fps=0) as adapter:
        async for scan in adapter.readings():
            read.append(scan.payload)
            if len(read) == len(shown):
                break
    print(sorted(read) == sorted(shown), "cv2" in sys.modules)

asyncio.run(asyncio.wait_for(main(), 30))
"""


def test_the_simulated_camera_is_read_without_loading_opencv() -> None:
    """OpenCV's libraries are ~16 MB of resident memory (RESULTS.md, soak): the agent with
    the simulated camera, as in the demo and the soak, must not load them."""
    done = subprocess.run(
        [sys.executable, "-c", SIMULATED_CAMERA_RUN],
        capture_output=True, text=True, timeout=60, check=True, cwd=REPO,
    )  # fmt: skip
    assert done.stdout.split() == ["True", "False"], done.stderr
