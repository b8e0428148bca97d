"""Pairing devices (staff tablets, displays) and authenticating them."""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime

from agent.core.events import DomainEvent
from agent.core.ports import Clock
from agent.core.ratelimit import RateLimiter
from agent.store.staff import StaffDevice, StaffRepository
from agent.store.unit_of_work import UnitOfWork

_LOGGER = logging.getLogger(__name__)


class PairingRefused(Exception):
    def __init__(self, code: str, message: str, retry_after_s: float = 0.0) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retry_after_s = retry_after_s


@dataclass(frozen=True, slots=True)
class Paired:
    token: str
    role: str


class _AttemptLimiter(RateLimiter):
    """Counts an attempt when it starts, not when it has failed: concurrent guesses would
    otherwise all pass the check while the first ones are still being evaluated (issue 12
    item 8: 400 at once got 14 evaluated against a bound of 10). A good code gives its
    attempt back."""

    def refund(self, key: str, at: float) -> None:
        hits = self._hits.get(key)
        if hits is not None:
            with contextlib.suppress(ValueError):
                hits.remove(at)


class StaffService:
    # A 6-digit code has a million values: with these limits guessing one inside its ten
    # minutes is out of reach (at most 100 tries from the whole network per 10 minutes).
    FAILURES_PER_CLIENT = 10
    FAILURES_OVERALL = 100
    FAILURE_WINDOW_S = 600.0
    LAST_SEEN_EVERY_S = 300.0

    def __init__(self, uow: UnitOfWork, staff: StaffRepository, clock: Clock) -> None:
        self._uow = uow
        self._staff = staff
        self._clock = clock
        self._client_attempts = _AttemptLimiter(self.FAILURES_PER_CLIENT, self.FAILURE_WINDOW_S)
        self._all_attempts = _AttemptLimiter(self.FAILURES_OVERALL, self.FAILURE_WINDOW_S)

    async def pair(self, code: str, device_name: str, client: str) -> Paired:
        now_mono = self._clock.monotonic()
        reserved: list[tuple[_AttemptLimiter, str]] = []
        for limiter, key in ((self._client_attempts, client), (self._all_attempts, "*")):
            if not limiter.allow(key, now_mono):
                for taken, taken_key in reserved:
                    taken.refund(taken_key, now_mono)
                raise PairingRefused(
                    "too_many_attempts",
                    "Too many wrong codes. Please wait and try again.",
                    limiter.retry_after(key, now_mono),
                )
            reserved.append((limiter, key))
        # From here the attempt is counted: a wrong code, a failed write or a caller who went
        # away all keep it (only a good code is given back below).
        paired = await self._uow.commit(
            lambda: (self._staff.redeem(code, device_name, self._clock.now()), [])
        )
        if paired is None:
            _LOGGER.warning("wrong or expired pairing code from %s", client)
            raise PairingRefused("invalid_code", "This code is wrong, used or expired.")
        for limiter, key in reserved:
            limiter.refund(key, now_mono)
        token, role = paired
        _LOGGER.info("paired %s device %r", role, device_name)
        return Paired(token, role)

    async def authenticate(self, token: str) -> StaffDevice | None:
        if not token or len(token) > 128:
            return None
        device = await self._uow.read(self._staff.authenticate, token)
        if device is not None and self._stale(device.last_seen_at):
            # For `retail-edge devices` (which tablets are still in use): written at most
            # once per LAST_SEEN_EVERY_S per tablet, not on every request.
            now = self._clock.now()

            def touch() -> tuple[None, list[DomainEvent]]:
                self._staff.touch(device.id, now)
                return None, []

            await self._uow.commit(touch)
        return device

    def _stale(self, last_seen_at: str | None) -> bool:
        if last_seen_at is None:
            return True
        seen = datetime.fromisoformat(last_seen_at.replace("Z", "+00:00"))
        return (self._clock.now() - seen).total_seconds() > self.LAST_SEEN_EVERY_S
