"""What the browser tests share: device sizes, queue config, screenshots."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import zxingcpp
from playwright.async_api import Locator, Page

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "screenshots"
DOCS_SCREENSHOTS = ROOT / "docs" / "screenshots"

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
TABLET = {"viewport": {"width": 1180, "height": 820}, "has_touch": True}
TV = {"viewport": {"width": 1280, "height": 720}}

QUEUES = """
[queues.advice]
label = "Conseil / Advice"
window_token = "rotating"
max_waiting = {max_waiting}

[queues.pickup]
label = "Retrait / Pick-up"
window_token = "static"
"""
ALWAYS_CLOSED = "\n[opening_hours]\n" + "\n".join(
    f'{day} = "closed"' for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
)


async def screenshot(target: Page | Locator, name: str, *, docs: bool = False) -> bytes:
    """Save a PNG under test-artifacts/screenshots (and docs/screenshots when asked)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    if isinstance(target, Page):
        data = await target.screenshot(path=str(path), full_page=True)
    else:
        data = await target.screenshot(path=str(path))
    if docs and os.environ.get("UPDATE_SCREENSHOTS") == "1":
        DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOCS_SCREENSHOTS / path.name)
    return data


def decode_qr(png: bytes) -> list[str]:
    """The texts of the QR codes a real decoder (zxing-cpp) finds in a screenshot."""
    image = cv2.imdecode(np.frombuffer(png, dtype=np.uint8), cv2.IMREAD_GRAYSCALE)
    assert image is not None, "the screenshot is not a PNG"
    only_qr = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
    return [found.text for found in zxingcpp.read_barcodes(image, formats=only_qr)]


async def pair_window_screen(page: Page, base_url: str, code: str, queue: str = "advice") -> None:
    """What a store does once per window screen (contract 8.1): open /window/{queue}, type the
    display pairing code, press the button; the page reloads to the QR code."""
    await page.goto(f"{base_url}/window/{queue}")
    await page.locator("#window-pair-code").fill(code)
    await page.locator("#window-pair-form button[type=submit]").click()
    await page.locator("#qr svg").wait_for(timeout=10_000)
