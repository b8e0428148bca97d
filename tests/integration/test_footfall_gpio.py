"""The GPIO adapter with gpiozero's mock pin factory: real gpiozero, simulated pins."""

from __future__ import annotations

import asyncio

from gpiozero.pins.mock import MockFactory

from agent.adapters.footfall_gpio import GpioBeamPair
from agent.core.clock import SystemClock


async def test_edges_on_the_pins_become_directions() -> None:
    factory = MockFactory()
    adapter = GpioBeamPair("main", "GPIO17", "GPIO27", SystemClock(), pin_factory=factory)
    outer, inner = factory.pin(17), factory.pin(27)
    got: list[str] = []
    async with adapter:

        async def collect() -> None:
            async for reading in adapter.readings():
                got.append(reading.direction)

        task = asyncio.create_task(collect())

        async def walk(first: object, second: object) -> None:
            for pin, level in ((first, 0), (second, 0), (first, 1), (second, 1)):
                pin.drive_low() if level == 0 else pin.drive_high()  # type: ignore[attr-defined]
                await asyncio.sleep(0.08)  # longer than the 50 ms debounce

        await walk(outer, inner)  # in
        await walk(inner, outer)  # out
        outer.drive_low()  # step in, back out: nothing
        await asyncio.sleep(0.08)
        outer.drive_high()
        await asyncio.sleep(0.3)
        task.cancel()
    assert got == ["in", "out"]
