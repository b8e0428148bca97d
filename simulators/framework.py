"""What every simulator is, and how a set of them runs together."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Protocol

_LOGGER = logging.getLogger(__name__)


class Simulator(Protocol):
    """A simulated device or service: runs until ``stop`` is set."""

    name: str

    async def run(self, stop: asyncio.Event) -> None: ...


async def run_simulators(simulators: Sequence[Simulator], stop: asyncio.Event) -> None:
    """Run all of them; one that fails is logged and does not take the others down."""

    async def guarded(simulator: Simulator) -> None:
        try:
            await simulator.run(stop)
        except asyncio.CancelledError:
            raise
        except Exception:
            _LOGGER.exception("simulator %s failed", simulator.name)

    await asyncio.gather(*(guarded(s) for s in simulators))
