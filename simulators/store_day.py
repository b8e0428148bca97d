"""A scripted store day for the demo: customers join from their "phones", staff serve.

Everything goes through the agent's real HTTP API, exactly as phones and tablets do. The
window token is read where a phone's camera would read it (the window screen's current code).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable

import httpx

_LOGGER = logging.getLogger(__name__)
NAMES = ("Camille", "Léa", "Hugo", "Inès", "Jules", "Manon", "Nathan", "Chloé", "Louis", "")


class QueueDay:
    """Customers join ``queues`` at random; a simulated tablet serves ``served_queues``."""

    name = "store-day"

    def __init__(
        self,
        base_url: str,
        window_token: Callable[[str], str],
        staff_token: str,
        *,
        queues: tuple[str, ...],
        served_queues: tuple[str, ...],
        mean_arrival_s: float = 40.0,
        mean_service_s: float = 90.0,
        rng: random.Random | None = None,
    ) -> None:
        self._base = base_url
        self._window_token = window_token
        self._staff = {"Authorization": f"Bearer {staff_token}"}
        self._queues = queues
        self._served = served_queues
        self._arrival = mean_arrival_s
        self._service = mean_service_s
        self._rng = rng or random.Random(11)

    async def run(self, stop: asyncio.Event) -> None:
        async with httpx.AsyncClient(base_url=self._base, timeout=10) as client:
            jobs = [self._customers(client, stop)] + [
                self._counter(client, queue, stop) for queue in self._served
            ]
            await asyncio.gather(*jobs)

    async def _pause(self, stop: asyncio.Event, mean_s: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=self._rng.expovariate(1 / mean_s))
        return not stop.is_set()

    async def _customers(self, client: httpx.AsyncClient, stop: asyncio.Event) -> None:
        while await self._pause(stop, self._arrival):
            queue = self._rng.choice(self._queues)
            body = {
                "window_token": self._window_token(queue),
                "name": self._rng.choice(NAMES),
                "party_size": self._rng.choice((1, 1, 1, 2, 3)),
                "locale": self._rng.choice(("fr", "en")),
            }
            # Each simulated phone has its own address as far as the rate limit is concerned
            # in real life; here they share one, so the demo config allows enough joins.
            try:
                response = await client.post(f"/api/v1/queues/{queue}/tickets", json=body)
            except httpx.HTTPError as exc:
                _LOGGER.info("simulated customer could not join: %s", exc)
                continue
            if response.status_code != 201:
                _LOGGER.info("simulated join refused: %s", response.text)

    async def _counter(self, client: httpx.AsyncClient, queue: str, stop: asyncio.Event) -> None:
        while await self._pause(stop, self._service / 3):
            try:
                called = await client.post(f"/api/v1/queues/{queue}/call-next", headers=self._staff)
                if called.status_code != 200:
                    continue
                ticket = called.json()["id"]
                if not await self._pause(stop, self._service):
                    return
                outcome = "no-show" if self._rng.random() < 0.08 else "served"
                await client.post(f"/api/v1/tickets/{ticket}/{outcome}", headers=self._staff)
            except httpx.HTTPError as exc:
                _LOGGER.info("simulated staff request failed: %s", exc)
