"""Reconnect delays: exponential with jitter, first retry under a second, capped."""

from __future__ import annotations

import random


class Backoff:
    """Delay ``d = min(cap, first * 2**n)``, drawn from ``[d/2, d]`` ("equal jitter").

    The jitter spreads hundreds of stores reconnecting after a central outage; keeping half of
    the delay fixed stops a store from hammering a broker that is still down.
    """

    def __init__(self, first_s: float, cap_s: float, rng: random.Random) -> None:
        if not 0 < first_s <= cap_s:
            raise ValueError("need 0 < first_s <= cap_s")
        self._first = first_s
        self._cap = cap_s
        self._rng = rng
        self._attempt = 0

    def next_delay(self) -> float:
        ceiling = min(self._cap, self._first * (2**self._attempt))
        self._attempt = min(self._attempt + 1, 32)
        return self._rng.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        self._attempt = 0
