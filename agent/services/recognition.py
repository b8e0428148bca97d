"""Opt-in recognition: readings in, consent-checked arrivals and staff alerts out.

Every reading is resolved in memory against consenting customers only. Anything that does not
resolve (a stranger's phone, an unknown card, a foreign QR code) is counted and dropped right
here: it never reaches the database, the logs or MQTT.

What follows an arrival (a linked ticket checked in, the alert on the tablets) and what follows
a customer change (tables rebuilt, everything about them forgotten) are events on the message
bus, dispatched after commit (the handler table is in `agent.bootstrap.handlers`).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Coroutine, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from agent.core.address_cache import AddressCache
from agent.core.alerts import ArrivalAlert
from agent.core.appointments import BOOKING_CODE_PREFIX
from agent.core.clock import rfc3339
from agent.core.eid import EidTable
from agent.core.events import CustomerNote, VisitArrived, VisitLeft
from agent.core.messages import (
    AlertAcked,
    AlertRaised,
    CheckInTicketCode,
    CustomerForgotten,
    CustomerIdentified,
    CustomerRecordsChanged,
)
from agent.core.passes import verify_pass
from agent.core.ports import Clock
from agent.core.presence import Arrived, Change, Left, Presence, Recognised
from agent.core.readings import AppCheckin, EidSighting, NfcTap, QrScan
from agent.core.ticket_codes import PREFIX as TICKET_CODE_PREFIX
from agent.metrics import Metrics
from agent.services.directory import CustomerDirectory
from agent.services.messagebus import MessageBus
from agent.services.suggestions import SuggestionService
from agent.store.customers import CustomerRepository
from agent.store.unit_of_work import UnitOfWork
from agent.store.visits import VisitRepository

_LOGGER = logging.getLogger(__name__)
CHECKIN_MAX_AGE_S = 300.0
LOAD_PAGE = 100  # customers read from the database at a time at start (see `load`)
# EID roll-over work is done in steps of a few customers, and the loop is let go after 5 ms
# of them, so no page, stream or advertisement waits longer than that for it, on a fast
# machine or a Pi alike (a customer costs 9-30 us here: benchmarks/loop_lag.py).
ROLLOVER_STEP = 50
ROLLOVER_SLICE_S = 0.005
ROLLOVER_PAUSE_S = 0.001
ADDRESS_PURGE_EVERY_S = 10.0  # expired BLE addresses are forgotten within this of their TTL


class RecognitionService:
    def __init__(
        self,
        uow: UnitOfWork,
        customers: CustomerRepository,
        visits: VisitRepository,
        presence: Presence,
        addresses: AddressCache,
        clock: Clock,
        metrics: Metrics,
        bus: MessageBus,
        directory: CustomerDirectory,
        *,
        pass_public_key: bytes | None,
        suggestions: SuggestionService | None = None,
    ) -> None:
        self._uow = uow
        self._customers = customers
        self._visits = visits
        self.presence = presence
        self.addresses = addresses
        self._clock = clock
        self._metrics = metrics
        self._bus = bus
        self._pass_key = pass_public_key
        self.directory = directory
        self.eids = EidTable()
        self._suggestions = suggestions
        # The BLE counters' children, looked up once: `labels()` on every advertisement was
        # a measurable share of the sighting path.
        self._ble_resolved = metrics.readings_resolved.labels(kind="ble")
        self._ble_unknown = metrics.readings_dropped.labels(kind="ble")
        self._background: set[asyncio.Task[None]] = set()
        self._next_purge = 0.0

    async def load(self) -> None:
        # A small page at a time, into the directory and the EID table: what a page's
        # parsed records (profiles as dicts) take is freed again, but the process's RSS
        # keeps its high-water mark (fragmented memory). All records at once was ~2 KB per
        # customer kept, pages of 1 000 +8.3 MB at 10 000 customers, pages of 100 +2.2 MB
        # (benchmarks/customer_memory.py); 100 000 customers then load in 1 000 reads.
        now = self._clock.now().timestamp()
        self.eids.clear(await self._uow.read(self._customers.count))
        after = ""
        while page := await self._uow.read(self._customers.page, after, LOAD_PAGE):
            for record in page:
                self.directory.put(record)
            self.eids.extend(
                ((r.customer_id, r.eid) for r in page if r.consent_recognition and r.eid), now
            )
            after = page[-1].customer_id
        self._metrics.recognition_customers.set(len(self.directory))

    # --- customer changes (bus handlers, after the change is committed) -------------------

    async def customers_changed(self, event: CustomerRecordsChanged) -> None:
        recognised = []
        latest = {record.customer_id: record for record in event.records}  # the later wins
        for record in latest.values():
            self.directory.put(record)
            if record.consent_recognition and record.eid is not None:
                recognised.append((record.customer_id, record.eid))
            else:
                self.eids.remove(record.customer_id)
        self.eids.upsert_many(recognised, self._clock.now().timestamp())
        self._metrics.recognition_customers.set(len(self.directory))

    async def customer_forgotten(self, event: CustomerForgotten) -> None:
        """Revoked, erased or no longer consenting: stop recognising them now."""
        customer_id = event.customer_id
        self.directory.remove(customer_id)
        self.eids.remove(customer_id)
        self.addresses.forget_customer(customer_id)
        self.presence.forget(customer_id)
        self._metrics.recognition_customers.set(len(self.directory))

    # --- readings --------------------------------------------------------------------------

    async def sighting(self, reading: EidSighting) -> None:
        await self.sightings((reading,))

    async def sightings(self, readings: Sequence[EidSighting]) -> None:
        """Each of a batch of sightings (a scanner's wake-up), counted once per batch: a
        counter's `inc` takes a lock, and per advertisement that was a measurable share."""
        resolved = unknown = 0
        lookup, store, resolve = self.addresses.lookup, self.addresses.store, self.eids.resolve
        directory, presence = self.directory, self.presence
        for reading in readings:
            try:
                hit, customer_id = lookup(reading.address, reading.eid, reading.at)
                if not hit:
                    customer_id = resolve(reading.eid)
                    store(reading.address, reading.eid, customer_id, reading.at)
                if customer_id is None or customer_id not in directory:
                    unknown += 1
                    continue
                resolved += 1
                changes = presence.sighting(customer_id, reading.reader, reading.rssi, reading.at)
                if changes:  # rare: most sightings are of customers already inside
                    # An arrival is a durable commit (milliseconds). Awaited here, it held up
                    # every advertisement behind it, and at thousands a second the scanner's
                    # queue overflowed (benchmarks/PROFILE.md). Presence has already recorded
                    # the visit, so the commit runs beside the sources pump, in order with the
                    # other writes (the store has one thread).
                    self._beside_readings(self._apply(changes))
            except Exception:
                _LOGGER.exception("handling a BLE sighting failed")  # the others go on
        if resolved:
            self._ble_resolved.inc(resolved)
        if unknown:
            self._ble_unknown.inc(unknown)

    async def tap(self, reading: NfcTap) -> None:
        customer_id = self.directory.by_nfc(reading.uid)
        await self._identified(customer_id, "nfc", reading.at)

    def identify_pass(self, payload: str) -> str | None:
        """The customer a loyalty pass belongs to, if valid now and that customer consented."""
        if self._pass_key is None:
            return None
        customer_id = verify_pass(payload, self._pass_key, self._clock.now().timestamp())
        return customer_id if customer_id in self.directory else None

    async def scan(self, reading: QrScan) -> None:
        if reading.payload.startswith((TICKET_CODE_PREFIX, BOOKING_CODE_PREFIX)):
            # A queue ticket or a booking, not a person: the code says nothing about who
            # holds it.
            if await self._bus.handle(CheckInTicketCode(reading.payload)):
                self._metrics.readings_resolved.labels(kind="ticket").inc()
            else:
                self._metrics.readings_dropped.labels(kind="ticket").inc()
            return
        await self._identified(self.identify_pass(reading.payload), "qr", reading.at)

    async def checkin(self, reading: AppCheckin) -> None:
        age = self._clock.now().timestamp() - reading.at_unix
        if age > CHECKIN_MAX_AGE_S or age < -CHECKIN_MAX_AGE_S:
            self._metrics.readings_dropped.labels(kind="app_stale").inc()
            return
        await self._identified(reading.customer_id, "app", reading.at)

    async def tick(self) -> None:
        """Departures, and EID periods that rolled over (call about once a second)."""
        now = self._clock.now().timestamp()
        deadline = time.perf_counter() + ROLLOVER_SLICE_S
        while self.eids.advance_slice(now, ROLLOVER_STEP):
            if time.perf_counter() >= deadline:
                # Pages, streams and readings run between slices. A timer, not sleep(0):
                # timers already due (a page's, a stream's) then run before the next slice
                # rather than after it.
                await asyncio.sleep(ROLLOVER_PAUSE_S)
                deadline = time.perf_counter() + ROLLOVER_SLICE_S
        monotonic = self._clock.monotonic()
        await self._apply(self.presence.tick(monotonic))
        if monotonic >= self._next_purge:  # a whole-cache scan (~1 ms at 4 096): not every tick
            self.addresses.purge(monotonic)  # readings carry monotonic times
            self._next_purge = monotonic + ADDRESS_PURGE_EVERY_S
        self._metrics.address_cache_size.set(len(self.addresses))

    async def acknowledge(self, alert_id: str, device: str) -> str | None:
        def work() -> tuple[str | None, Sequence[object]]:
            taken_by = self._visits.ack_alert(alert_id, device, self._clock.now())
            return taken_by, [] if taken_by is None else [AlertAcked(alert_id, taken_by)]

        return await self._uow.commit(work)

    async def add_note(self, customer_id: str, text: str, by: str) -> bool:
        """A staff note on a customer who consented to staff seeing their profile, sent up
        as `customer.note`; False (nothing recorded) for anyone else."""
        if not self.directory.staff_profile(customer_id):
            return False
        await self._uow.record([CustomerNote(customer_id, text, by)])
        return True

    async def idle(self) -> None:
        """Until the arrivals handed off by `sighting` are committed (shutdown)."""
        while self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    # --- internals -------------------------------------------------------------------------

    def _beside_readings(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            _LOGGER.error("recording a BLE arrival failed", exc_info=task.exception())

    async def _identified(self, customer_id: str | None, via: str, at: float) -> None:
        if customer_id is None or customer_id not in self.directory:
            self._metrics.readings_dropped.labels(kind=via).inc()
            return
        self._metrics.readings_resolved.labels(kind=via).inc()
        await self._apply(self.presence.identified(customer_id, via, at))

    async def _apply(self, changes: Sequence[Change]) -> None:
        for change in changes:
            if isinstance(change, Left):
                await self._left(change)
            else:
                await self._arrived(change)

    async def _arrived(self, change: Arrived | Recognised) -> None:
        if change.customer_id not in self.directory:
            return
        now = self._clock.now()
        new_visit = isinstance(change, Arrived)
        alert = not new_visit or change.alert  # type: ignore[union-attr]
        alert_id = uuid.uuid4().hex if alert else None

        def work() -> tuple[None, Sequence[object]]:
            # The card's name and profile are read here, in its transaction (the directory
            # holds neither: agent/services/directory.py).
            record = self._customers.get(change.customer_id)
            if record is None or not record.consent_recognition:
                # Forgotten while this reading was on its way: nothing about them is written.
                return None, []
            events: list[object] = []
            history = self._visits.history(change.customer_id, excluding=change.visit_id)
            if new_visit:
                self._visits.arrived(change.visit_id, change.customer_id, change.via, now)
                events.append(VisitArrived(change.visit_id, change.customer_id, change.via))
            events.append(CustomerIdentified(change.customer_id, change.via))
            if alert_id is not None:
                self._visits.add_alert(
                    alert_id, change.customer_id, change.visit_id, change.via, now
                )
                # Contract 8.8: stored with the alert, in this transaction (issue 15).
                shown, suggested = (
                    ((), [])
                    if self._suggestions is None
                    else self._suggestions.for_arrival(record, alert_id, change.visit_id)
                )
                events.extend(suggested)
                events.append(
                    AlertRaised(
                        ArrivalAlert.of(
                            record,
                            alert_id=alert_id,
                            via=change.via,
                            at=_iso(now),
                            visits=history.visits,
                            last_visit=history.last_visit,
                            suggestions=shown,
                        )
                    )
                )
            return None, events

        await self._uow.commit(work)

    async def _left(self, change: Left) -> None:
        now = self._clock.now()

        def work() -> tuple[None, Sequence[object]]:
            self._visits.left(change.visit_id, now, change.dwell_s)
            return None, [VisitLeft(change.visit_id, change.customer_id, round(change.dwell_s, 1))]

        await self._uow.commit(work)

    async def purge(self, visit_retention_days: int, alert_retention_h: int) -> int:
        now = self._clock.now()
        return await self._uow.commit(
            lambda: (
                self._visits.purge(
                    visits_before=now - timedelta(days=visit_retention_days),
                    alerts_before=now - timedelta(hours=alert_retention_h),
                ),
                [],
            )
        )


def _iso(moment: datetime) -> str:
    return rfc3339(moment.astimezone(UTC))
