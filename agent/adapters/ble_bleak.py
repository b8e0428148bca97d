"""BLE through the device's own radio with bleak (BlueZ on a Raspberry Pi).

Passive scanning through a BlueZ advertisement monitor when the kernel and BlueZ allow it
(it needs an or-pattern: here "service data for UUID 0xFEAA", so BlueZ wakes us only for
Eddystone), active scanning otherwise. Scanning is continuous: the watchdog in
agent.services.sources restarts a scan that went silent. bleak's callback runs on the event
loop; it only parses and enqueues, so a flood of advertisements cannot stall the agent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from types import TracebackType
from typing import Self

from bleak import BleakScanner
from bleak.args.bluez import BlueZScannerArgs, OrPattern
from bleak.assigned_numbers import AdvertisementDataType
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData

from agent.core.eddystone import parse_eid_frame
from agent.core.ports import Clock
from agent.core.readings import EidSighting

_LOGGER = logging.getLogger(__name__)
EDDYSTONE_UUID = "0000feaa-0000-1000-8000-00805f9b34fb"
QUEUE_SIZE = 2048
# Service data AD structure for UUID16 0xFEAA, little-endian in the advertisement.
EDDYSTONE_PATTERN = OrPattern(0, AdvertisementDataType.SERVICE_DATA_UUID16, b"\xaa\xfe")


class BleakScannerSource:
    def __init__(
        self,
        clock: Clock,
        on_dropped: Callable[[str], None],
        *,
        adapter: str | None = None,
        passive: bool = True,
    ) -> None:
        self._clock = clock
        self._on_dropped = on_dropped
        self._adapter = adapter
        self._passive = passive
        self._queue: asyncio.Queue[EidSighting] = asyncio.Queue(QUEUE_SIZE)
        self._scanner: BleakScanner | None = None
        self.name = f"bleak:{adapter or 'default'}"

    async def __aenter__(self) -> Self:
        bluez: BlueZScannerArgs = {}
        if self._adapter:
            bluez["adapter"] = self._adapter
        if self._passive:
            bluez["or_patterns"] = [EDDYSTONE_PATTERN]
        try:
            self._scanner = self._make(bluez, "passive" if self._passive else "active")
            await self._scanner.start()
        except Exception as exc:  # BlueZ without advertisement monitors (old kernels)
            if not self._passive:
                raise
            _LOGGER.warning("passive BLE scanning unavailable (%s); scanning actively", exc)
            bluez.pop("or_patterns", None)
            self._scanner = self._make(bluez, "active")
            await self._scanner.start()
        return self

    def _make(self, bluez: BlueZScannerArgs, mode: str) -> BleakScanner:
        return BleakScanner(
            detection_callback=self._on_advertisement,
            service_uuids=[EDDYSTONE_UUID] if mode == "active" else None,
            scanning_mode="passive" if mode == "passive" else "active",
            bluez=bluez,
        )

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._scanner is not None:
            await self._scanner.stop()
            self._scanner = None

    async def readings(self) -> AsyncIterator[EidSighting]:
        while True:
            yield await self._queue.get()

    def _on_advertisement(self, device: BLEDevice, data: AdvertisementData) -> None:
        service_data = data.service_data.get(EDDYSTONE_UUID)
        if service_data is None:
            return
        frame = parse_eid_frame(service_data)
        if frame is None:
            return
        tx_power, eid = frame
        sighting = EidSighting(
            eid, data.rssi, tx_power, device.address, self.name, self._clock.monotonic()
        )
        try:
            self._queue.put_nowait(sighting)
        except asyncio.QueueFull:
            self._on_dropped("ble_queue_full")
