"""Break-beam pairs on a Raspberry Pi's GPIO, through gpiozero (contract §2 `adapter = "gpio"`).

gpiozero calls back from its own thread; each edge is handed to the event loop, where the
pure direction logic (agent.core.beams) decides. A beam receiver pulls its output low while
the beam is broken, so the inputs use the internal pull-up and "active" means broken.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any, Self

from agent.core.beams import BeamPair, BeamSettings
from agent.core.ports import Clock
from agent.core.readings import FootfallCount

FLUSH_EVERY_S = 0.1


class GpioBeamPair:
    def __init__(
        self,
        door: str,
        outer_pin: str,
        inner_pin: str,
        clock: Clock,
        *,
        debounce_s: float = 0.05,
        pin_factory: Any = None,  # gpiozero's; tests pass gpiozero's MockFactory
    ) -> None:
        self.door = door
        self.name = f"footfall-gpio:{door}"
        self._pins = {"a": outer_pin, "b": inner_pin}
        self._clock = clock
        self._pair = BeamPair(BeamSettings(debounce_s=debounce_s))
        self._factory = pin_factory
        self._devices: list[Any] = []
        self._queue: asyncio.Queue[FootfallCount] = asyncio.Queue(256)
        self._loop: asyncio.AbstractEventLoop | None = None

    async def __aenter__(self) -> Self:
        from gpiozero import DigitalInputDevice

        self._loop = asyncio.get_running_loop()
        for beam, pin in self._pins.items():
            device = DigitalInputDevice(pin, pull_up=True, pin_factory=self._factory)
            device.when_activated = lambda beam=beam: self._edge(beam, broken=True)
            device.when_deactivated = lambda beam=beam: self._edge(beam, broken=False)
            self._devices.append(device)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for device in self._devices:
            with contextlib.suppress(Exception):
                device.close()
        self._devices.clear()

    async def readings(self) -> AsyncIterator[FootfallCount]:
        while True:
            try:
                async with asyncio.timeout(FLUSH_EVERY_S):
                    yield await self._queue.get()
            except TimeoutError:
                self._emit(self._pair.flush(self._clock.monotonic()))

    def _edge(self, beam: str, *, broken: bool) -> None:
        """gpiozero's thread: hand over to the loop, never touch state here."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._on_loop, beam, broken)

    def _on_loop(self, beam: str, broken: bool) -> None:
        self._emit(self._pair.change(beam, broken, self._clock.monotonic()))

    def _emit(self, direction: str | None) -> None:
        if direction is None:
            return
        reading = FootfallCount(
            sensor=self.name,
            door=self.door,
            direction=direction,
            value=1,
            cumulative=False,
            at=self._clock.monotonic(),
        )
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait(reading)
