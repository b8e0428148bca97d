"""Real radios, readers and cameras: run on a store device with `pytest --hardware`.

No machine in CI has a Bluetooth adapter, an NFC reader or a camera, so these are skipped
there (the simulators implement the same ports and are tested everywhere). On a device:

    RETAIL_EDGE_TEST_EID_PHONE=1 pytest --hardware tests/hardware   # a phone advertising an
                                                                    # Eddystone-EID nearby
    RETAIL_EDGE_NFC_PATH=usb pytest --hardware -k nfc               # then tap any card
    RETAIL_EDGE_CAMERA=0 pytest --hardware -k camera                # show any QR code
"""

from __future__ import annotations

import asyncio
import os

import pytest

from agent.core.clock import SystemClock

pytestmark = pytest.mark.hardware


async def first_reading(source: object, timeout_s: float) -> object:
    async with source:  # type: ignore[attr-defined]
        async with asyncio.timeout(timeout_s):
            async for reading in source.readings():  # type: ignore[attr-defined]
                return reading
    raise AssertionError("the source ended without a reading")


async def test_bleak_scanner_starts_and_hears_an_eddystone_eid_phone() -> None:
    from agent.adapters.ble_bleak import BleakScannerSource

    dropped: list[str] = []
    scanner = BleakScannerSource(SystemClock(), dropped.append, passive=True)
    if not os.environ.get("RETAIL_EDGE_TEST_EID_PHONE"):
        async with scanner:  # BlueZ accepted the scan (passive, or active as the fallback)
            await asyncio.sleep(5)
        return
    sighting = await first_reading(scanner, 60)
    assert len(sighting.eid) == 8 and -127 <= sighting.rssi <= 20  # type: ignore[attr-defined]


async def test_nfc_reader_reads_a_tapped_card() -> None:
    from agent.adapters.nfc_nfcpy import NfcpyReader

    reader = NfcpyReader(os.environ.get("RETAIL_EDGE_NFC_PATH", "usb"), SystemClock())
    print("tap a card on the reader within 30 s")
    tap = await first_reading(reader, 30)
    uid = tap.uid  # type: ignore[attr-defined]
    assert len(uid) in (8, 14, 20) and int(uid, 16) >= 0  # 4, 7 or 10 bytes, in hex


async def test_camera_reads_a_qr_code() -> None:
    from agent.adapters.qr_opencv import OpenCvFrames, QrCamera

    source = os.environ.get("RETAIL_EDGE_CAMERA", "0")
    camera = QrCamera(lambda: OpenCvFrames(source), SystemClock())
    print("show any QR code to the camera within 30 s")
    scan = await first_reading(camera, 30)
    assert scan.payload  # type: ignore[attr-defined]
