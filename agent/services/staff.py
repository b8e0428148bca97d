"""Pairing devices (staff tablets, displays), authenticating them, and noticing when one is
revoked by another process (`retail-edge revoke`) so its open streams end (contract 8.2)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
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


class StaffService:
    # A 6-digit code has a million values: with these limits guessing one inside its ten
    # minutes is out of reach (at most 100 tries from the whole network per 10 minutes).
    FAILURES_PER_CLIENT = 10
    FAILURES_OVERALL = 100
    FAILURE_WINDOW_S = 600.0
    LAST_SEEN_EVERY_S = 300.0
    # Revocations come from another process through the database: looked for this often
    # while a stream is open (contract 8.2 allows 5 s).
    REVOCATION_POLL_S = 1.0

    def __init__(self, uow: UnitOfWork, staff: StaffRepository, clock: Clock) -> None:
        self._uow = uow
        self._staff = staff
        self._clock = clock
        self._client_attempts = RateLimiter(self.FAILURES_PER_CLIENT, self.FAILURE_WINDOW_S)
        self._all_attempts = RateLimiter(self.FAILURES_OVERALL, self.FAILURE_WINDOW_S)
        self._revoked: frozenset[str] = frozenset()
        self._streams: dict[str, set[asyncio.Event]] = {}
        self._next_read: asyncio.Future[frozenset[str]] | None = None
        self._reading: asyncio.Task[None] | None = None

    async def pair(self, code: str, device_name: str, client: str) -> Paired:
        now_mono = self._clock.monotonic()
        reserved: list[tuple[RateLimiter, str]] = []
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

    # --- revocation reaching open streams (contract 8.2) ----------------------------------

    @contextlib.contextmanager
    def open_stream(self, device_id: str) -> Iterator[asyncio.Event]:
        """Register a device's open stream; the event is set when the device is revoked."""
        revoked = asyncio.Event()
        streams = self._streams.setdefault(device_id, set())
        streams.add(revoked)
        if device_id in self._revoked:
            revoked.set()
        try:
            yield revoked
        finally:
            streams.discard(revoked)
            if not streams:
                self._streams.pop(device_id, None)

    async def still_paired(self, device_id: str) -> bool:
        """Whether the device is unrevoked, by a read that started after this call (so a
        frame checked here is never sent after a revoke that committed before it)."""
        try:
            return device_id not in await self.revocations()
        except Exception as exc:  # noqa: BLE001 - an unreadable store must not end every stream
            _LOGGER.warning("could not read revoked devices, using the last known: %s", exc)
            return device_id not in self._revoked

    async def revocations(self) -> frozenset[str]:
        """The revoked devices, read fresh. Callers arriving while a read is queued share it,
        so many streams sending at once cost one small read, not one each."""
        queued = self._next_read
        if queued is None:
            queued = self._next_read = asyncio.get_running_loop().create_future()
            if self._reading is None:
                self._start_read()  # takes the queued read off `_next_read`: keep our own
        return await asyncio.shield(queued)

    def _start_read(self) -> None:
        waiting, self._next_read = self._next_read, None
        assert waiting is not None  # noqa: S101 - only called with a queued read
        self._reading = asyncio.create_task(self._read(waiting), name="revocations")

    async def _read(self, waiting: asyncio.Future[frozenset[str]]) -> None:
        try:
            revoked = await self._uow.read(self._staff.revoked_ids)
        except Exception as exc:  # noqa: BLE001 - handed to every waiting caller
            waiting.set_exception(exc)
            waiting.exception()  # marked retrieved: every caller may have gone away
        else:
            self._learn(revoked)
            waiting.set_result(revoked)
        finally:
            self._reading = None
            if self._next_read is not None:
                self._start_read()

    def _learn(self, revoked: frozenset[str]) -> None:
        self._revoked = revoked
        for device_id in revoked & self._streams.keys():
            _LOGGER.info("device %s was revoked: ending its open streams", device_id)
            for event in self._streams[device_id]:
                event.set()

    async def watch_revocations(self, stop: asyncio.Event) -> None:
        """While any device stream is open, look for revocations every REVOCATION_POLL_S
        (an idle stream sends nothing that would check, yet must end within 5 s)."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.REVOCATION_POLL_S)
            if not self._streams:
                continue
            try:
                await self.revocations()
            except Exception as exc:  # noqa: BLE001 - a bad read must not stop the watch
                _LOGGER.warning("could not read revoked devices: %s", exc)
