"""QR decoders behind one signature: a grayscale frame in, the decoded texts out.

zxing-cpp is the default: measured here (benchmarks/qr_decode.py) it decodes more distorted
codes and does so faster than pyzbar; pyzbar stays selectable (it needs Debian's libzbar0);
OpenCV's own detector is kept for the benchmark only.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

Frame = NDArray[np.uint8]
Decoder = Callable[[Frame], list[str]]


def grayscale(frame: Frame) -> Frame:
    if frame.ndim == 3:
        # Colour frames come from OpenCV's capture, so cv2 is loaded already; grey ones (the
        # simulated camera) never load it (~16 MB resident, see agent.adapters.qr_opencv).
        import cv2

        return cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)  # type: ignore[return-value]
    return frame


def zxing(frame: Frame) -> list[str]:
    import zxingcpp

    # QR codes only: searching every symbology cost ~9x the time on 720p frames with no gain
    # (benchmarks/qr_decode.py: 55 ms -> 6.3 ms per distorted 720p frame, same 97.5 % read).
    only_qr = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
    found = zxingcpp.read_barcodes(grayscale(frame), formats=only_qr)
    return [r.text for r in found if r.text]


def pyzbar(frame: Frame) -> list[str]:
    from pyzbar import pyzbar as zbar

    # QR codes only, as for zxing (and zbar's other symbologies print assertions on noise).
    results = zbar.decode(grayscale(frame), symbols=[zbar.ZBarSymbol.QRCODE])
    return [r.data.decode("utf-8", errors="replace") for r in results]


def opencv(frame: Frame) -> list[str]:
    import cv2

    ok, texts, _, _ = cv2.QRCodeDetector().detectAndDecodeMulti(grayscale(frame))
    return [t for t in texts if t] if ok else []


DECODERS: dict[str, Decoder] = {"zxing": zxing, "pyzbar": pyzbar, "opencv": opencv}
