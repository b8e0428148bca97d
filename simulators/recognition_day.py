"""The recognition part of a simulated store day: opted-in customers and strangers at the door.

Phones walk in through the simulated BLE source, cards are tapped on the simulated NFC
reader, wallet passes are held up to the simulated counter camera (rendered as real QR images
and decoded by the real decoder): the same entry points real hardware uses. Strangers' phones
advertise random EIDs and strangers show forged passes or unrelated codes, which the agent
must drop without a trace.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent.core.customers import EidCredential
from agent.core.passes import sign_pass
from simulators.ble_phones import SimulatedPhones, Walk
from simulators.nfc_reader import SimulatedNfcReader
from simulators.qr_camera import SimulatedCamera

PASS_VALIDITY_S = 30 * 24 * 3600


class RecognitionDay:
    name = "recognition-day"

    def __init__(
        self,
        customers: list[dict[str, Any]],
        phones: SimulatedPhones | None,
        reader: SimulatedNfcReader | None,
        *,
        camera: SimulatedCamera | None = None,
        pass_key: Ed25519PrivateKey | None = None,
        mean_gap_s: float = 12.0,
        rng: random.Random | None = None,
    ) -> None:
        self._customers = customers
        self._phones = phones
        self._reader = reader
        self._camera = camera
        self._pass_key = pass_key
        self._forger = Ed25519PrivateKey.generate()
        self._gap = mean_gap_s
        self._rng = rng or random.Random(17)

    async def run(self, stop: asyncio.Event) -> None:
        # Someone the staff should greet arrives right away, so the demo shows it early.
        if self._phones is not None and self._customers:
            self._phones.walk_in(_credential(self._customers[0]), Walk(inside_s=120))
        if self._camera is not None and self._pass_key is not None and len(self._customers) > 1:
            # ... and soon after (once the records are in) someone shows their wallet pass at
            # the counter camera.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=5)
            self._camera.show(self._pass_for(self._customers[1]["customer_id"], genuine=True))
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self._rng.expovariate(1 / self._gap))
            if stop.is_set():
                return
            roll = self._rng.random()
            record = self._rng.choice(self._customers)
            if roll < 0.55 and self._phones is not None:
                self._phones.walk_in(_credential(record), Walk(inside_s=self._rng.uniform(60, 300)))
            elif roll < 0.85 and self._phones is not None:
                enters = self._rng.random() < 0.5
                self._phones.walk_in(None, Walk(enters=enters, inside_s=self._rng.uniform(30, 200)))
            elif roll < 0.93 and self._reader is not None:
                self._reader.tap(record["credentials"]["nfc_uids"][0])
            elif self._camera is not None and self._pass_key is not None:
                self._camera.show(self._pass_for(record["customer_id"]))

    def _pass_for(self, customer_id: str, *, genuine: bool = False) -> str:
        """Mostly the customer's genuine pass; now and then a forged one, which must fail."""
        key = self._pass_key if genuine or self._rng.random() >= 0.2 else self._forger
        assert key is not None  # noqa: S101 - checked by the caller
        return sign_pass(customer_id, int(time.time()) + PASS_VALIDITY_S, key)


def _credential(record: dict[str, Any]) -> EidCredential:
    eid = record["credentials"]["eid"]
    return EidCredential(bytes.fromhex(eid["identity_key"]), eid["rotation_exponent"], eid["epoch"])
