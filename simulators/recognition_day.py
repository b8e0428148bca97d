"""The recognition part of a simulated store day: opted-in customers and strangers at the door.

Phones walk in through the simulated BLE source, cards are tapped on the simulated NFC
reader: the same entry points real hardware uses. Strangers' phones advertise random EIDs,
which the agent must drop without a trace.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from typing import Any

from agent.core.customers import EidCredential
from simulators.ble_phones import SimulatedPhones, Walk
from simulators.nfc_reader import SimulatedNfcReader


class RecognitionDay:
    name = "recognition-day"

    def __init__(
        self,
        customers: list[dict[str, Any]],
        phones: SimulatedPhones | None,
        reader: SimulatedNfcReader | None,
        *,
        mean_gap_s: float = 12.0,
        rng: random.Random | None = None,
    ) -> None:
        self._customers = customers
        self._phones = phones
        self._reader = reader
        self._gap = mean_gap_s
        self._rng = rng or random.Random(17)

    async def run(self, stop: asyncio.Event) -> None:
        # Someone the staff should greet arrives right away, so the demo shows it early.
        if self._phones is not None and self._customers:
            self._phones.walk_in(_credential(self._customers[0]), Walk(inside_s=120))
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
            elif self._reader is not None:
                self._reader.tap(record["credentials"]["nfc_uids"][0])


def _credential(record: dict[str, Any]) -> EidCredential:
    eid = record["credentials"]["eid"]
    return EidCredential(bytes.fromhex(eid["identity_key"]), eid["rotation_exponent"], eid["epoch"])
