"""Simulated phones around the shop door, delivering what a BLE radio would hear.

Each phone advertises Eddystone-EID frames every 100 ms to 1 s. Its RSSI follows its distance
to the reader (log-distance path loss, tx power -59 dBm at 1 m, exponent 2.2) plus Gaussian
noise; its MAC address rotates every few minutes, as phones do. Opted-in customers' phones
advertise their real EIDs (from their identity key); strangers' phones advertise random ones.
A phone walks up to the door, goes in, stays a while deeper inside (weaker signal), and
leaves; another drifts by on the pavement without coming in.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

from agent.core.customers import EidCredential
from agent.core.eid import compute_eid
from agent.core.ports import Clock
from agent.core.readings import EidSighting

TX_AT_1M = -59
PATH_LOSS_EXPONENT = 2.2


def rssi_at(distance_m: float, rng: random.Random, noise_db: float = 4.0) -> int:
    distance = max(0.3, distance_m)
    return round(TX_AT_1M - 10 * PATH_LOSS_EXPONENT * math.log10(distance) + rng.gauss(0, noise_db))


@dataclass
class Walk:
    """Distance from the door reader over time (seconds since the walk started)."""

    approach_s: float = 8.0
    door_s: float = 4.0  # in the doorway, next to the reader
    inside_s: float = 60.0
    enters: bool = True

    @property
    def total_s(self) -> float:
        return self.approach_s + self.door_s + self.inside_s + 6.0

    def distance(self, t: float) -> float | None:
        if t < 0:
            return None
        if t < self.approach_s:  # from 12 m away to the door
            return 12.0 - 11.0 * t / self.approach_s
        if not self.enters:  # walks on along the pavement
            return 1.0 + 2.0 * (t - self.approach_s) if t < self.approach_s + 6 else None
        t -= self.approach_s
        if t < self.door_s:
            return 1.0
        t -= self.door_s
        if t < self.inside_s:  # inside: 8-15 m from the door reader
            return 8.0 + 7.0 * math.sin(t / 20) ** 2
        leaving = t - self.inside_s
        return 1.0 + 2.0 * leaving if leaving < 6 else None


@dataclass
class Phone:
    credential: EidCredential | None  # None: a stranger's phone
    walk: Walk
    started: float
    interval_s: float
    address: str = ""
    next_rotation: float = 0.0
    stranger_eid: bytes = field(default=b"")


class SimulatedPhones:
    """A BleSource: the port the bleak adapter implements, fed by simulated phones."""

    def __init__(
        self, clock: Clock, rng: random.Random | None = None, name: str = "sim:door"
    ) -> None:
        self.name = name
        self._clock = clock
        self._rng = rng or random.Random(5)
        self._phones: list[Phone] = []
        self.sent = 0

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    def walk_in(self, credential: EidCredential | None, walk: Walk | None = None) -> None:
        """A phone starts walking towards the door now."""
        phone = Phone(
            credential=credential,
            walk=walk or Walk(inside_s=self._rng.uniform(30, 240)),
            started=self._clock.monotonic(),
            interval_s=self._rng.uniform(0.1, 1.0),
        )
        self._rotate(phone)
        self._phones.append(phone)

    def _rotate(self, phone: Phone) -> None:
        phone.address = ":".join(
            f"{b:02X}"
            for b in [self._rng.randint(0x40, 0x7F)] + [self._rng.randint(0, 255) for _ in range(5)]
        )  # a random resolvable-private-style address
        phone.next_rotation = self._clock.monotonic() + self._rng.uniform(120, 900)
        phone.stranger_eid = self._rng.randbytes(8)

    async def readings(self) -> AsyncIterator[EidSighting]:
        while True:
            now = self._clock.monotonic()
            due = [p for p in self._phones if p.walk.distance(now - p.started) is not None]
            self._phones = [p for p in self._phones if now - p.started < p.walk.total_s]
            for phone in due:
                if self._rng.random() > 0.1 / phone.interval_s:  # ~1 frame per interval
                    continue
                distance = phone.walk.distance(now - phone.started)
                if distance is None:
                    continue
                if now >= phone.next_rotation:
                    self._rotate(phone)
                self.sent += 1
                yield EidSighting(
                    eid=self._eid(phone),
                    rssi=rssi_at(distance, self._rng),
                    tx_power=-20,
                    address=phone.address,
                    reader=self.name,
                    at=now,
                )
            await asyncio.sleep(0.1)

    def _eid(self, phone: Phone) -> bytes:
        c = phone.credential
        if c is None:
            return phone.stranger_eid
        counter = int(self._clock.now().timestamp()) - c.epoch
        return compute_eid(c.identity_key, c.rotation_exponent, max(0, counter))
