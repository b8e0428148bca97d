"""Booked appointments mixed with walk-ins (issue 14): the central service's day list is
kept, a booked customer who checks in (the booking's QR code at the counter camera, or
recognised at the door) gets a ticket placed by the core's rule, and bookings nobody came
for become no-shows. The rules: agent.core.appointments; the place: agent.core.priority."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from agent.config.queue_extras import AppointmentsConfig
from agent.core.appointments import (
    ApplyAppointmentDay,
    Appointment,
    AppointmentStatus,
    CheckInWindow,
    booked_ahead,
    booking_code,
    check_in_window,
)
from agent.core.clock import rfc3339
from agent.core.estimate import WaitRange
from agent.core.events import AppointmentCheckedIn, AppointmentNoShow, DomainEvent
from agent.core.ports import Clock
from agent.core.queue import QueueRuleError, Ticket, TicketState
from agent.metrics import Metrics
from agent.services.queue.announce import Announcer
from agent.services.queue.state import QueueRegistry, QueueState
from agent.services.queue.tickets import TicketDesk, hash_secret
from agent.services.queue.views import BookedView
from agent.store.appointments import AppointmentRepository
from agent.store.tickets import TicketRepository
from agent.store.unit_of_work import UnitOfWork

_LOGGER = logging.getLogger(__name__)


class AppointmentDesk:
    def __init__(
        self,
        registry: QueueRegistry,
        desk: TicketDesk,
        uow: UnitOfWork,
        tickets: TicketRepository,
        appointments: AppointmentRepository,
        announcer: Announcer,
        clock: Clock,
        metrics: Metrics,
        config: AppointmentsConfig,
    ) -> None:
        self._registry = registry
        self._desk = desk
        self._uow = uow
        self._tickets = tickets
        self._repo = appointments
        self._announcer = announcer
        self._clock = clock
        self._metrics = metrics
        self._config = config
        # Today's bookings still expected, by queue, in time order: read at every change of
        # the list or of a booking, so the estimate and the tablet never touch the disk.
        self._expected: dict[str, list[Appointment]] = {}
        self._day: str | None = None

    # --- reading -----------------------------------------------------------------------------

    def expected(self, queue: str) -> list[Appointment]:
        return list(self._expected.get(queue, ()))

    def booked_views(self, queue: str) -> tuple[BookedView, ...]:
        return tuple(
            BookedView(a.id, a.at, a.name, a.party_size) for a in self._expected.get(queue, ())
        )

    def extra_ahead(self, q: QueueState, ahead: int) -> int:
        """Bookings a newcomer with ``ahead`` people before them will also wait for."""
        expected = self._expected.get(q.config.id)
        if not expected:
            return 0
        window = (float(self._config.late_s), float(self._config.ahead_s))

        def wait_for(people: int) -> float:
            wait = self._registry.base_estimate(q, people)
            return (wait.low_s + wait.high_s) / 2

        return booked_ahead((a.at for a in expected), self._clock.now(), window, wait_for, ahead)

    async def load(self) -> None:
        day = self._registry.local_day(self._clock.now())
        booked = await self._uow.read(self._repo.booked, day)
        expected: dict[str, list[Appointment]] = {}
        for a in booked:
            if a.queue in self._registry.queues:
                expected.setdefault(a.queue, []).append(a)
        self._expected, self._day = expected, day

    def unlink(self, customer_id: str) -> None:
        """Revoke or erase: the bookings in memory lose the link at once (the store's rows
        are cleared in the forgetting's own transaction)."""
        for items in self._expected.values():
            for index, a in enumerate(items):
                if a.customer_id == customer_id:
                    items[index] = replace(a, customer_id=None)

    # --- the day list ------------------------------------------------------------------------

    async def apply_day(self, command: ApplyAppointmentDay) -> bool:
        """The central service's list for a day (a bus command); False if not newer."""
        content = command.content
        applied = await self._uow.commit(lambda: (self._repo.replace_day(content), ()))
        if applied:
            await self.load()
            for q in self._registry.queues.values():
                self._announcer.changed(q)
        return applied

    # --- check-in ----------------------------------------------------------------------------

    async def check_in_code(self, payload: str) -> bool:
        """The booking confirmation's QR code at a counter camera."""
        code = booking_code(payload)
        found = None if code is None else await self._uow.read(self._repo.by_code, code)
        if found is None:
            return False
        return await self._check_in(found.id, "ticket_qr", customer_id=None)

    async def check_in_customer(self, customer_id: str, via: str) -> int:
        """A recognised customer at the door: their bookings of today that are due."""
        mine = [
            a for items in self._expected.values() for a in items if a.customer_id == customer_id
        ]
        done = 0
        for a in mine:
            if await self._check_in(a.id, via, customer_id=customer_id):
                done += 1
        return done

    async def check_in_by_staff(self, appointment_id: str) -> tuple[Ticket, str]:
        """Staff check a booking in by hand from the tablet (no phone, or the code does not
        scan): the same path, event and ordering rule as the camera's. Returns the ticket and
        its secret, for the ticket page's link the tablet shows (as a walk-in's paper has).
        LookupError: no such booking here; QueueRuleError: checked in already, cancelled,
        no-show, too early or not today (the reason is the code)."""
        return await self._settle(appointment_id, "staff", customer_id=None)

    async def _check_in(self, appointment_id: str, via: str, customer_id: str | None) -> bool:
        """A check-in from a reading: a refusal is not an error, only a false."""
        try:
            # The secret is dropped: nobody at a camera or a door can be handed the link.
            await self._settle(appointment_id, via, customer_id)
        except LookupError:
            return False
        except QueueRuleError as refused:
            if refused.code == "appointment_too_early":
                self._metrics.readings_dropped.labels(kind="appointment_too_early").inc()
            return False
        return True

    async def _settle(
        self, appointment_id: str, via: str, customer_id: str | None
    ) -> tuple[Ticket, str]:
        known = await self._uow.read(self._repo.get, appointment_id)
        if known is None or known.queue not in self._registry.queues:
            raise LookupError(appointment_id)
        q = self._registry.get(known.queue)
        now = self._clock.now()
        async with q.lock:
            # Read again under the lock: the same QR code shown twice makes one ticket.
            current = await self._uow.read(self._repo.get, appointment_id)
            if current is None:
                raise LookupError(appointment_id)
            if current.status != AppointmentStatus.BOOKED:
                raise QueueRuleError(f"appointment_{current.status.value}")
            if self._registry.local_day(current.at) != self._registry.local_day(now):
                raise QueueRuleError("appointment_not_today")
            timing = check_in_window(current.at, now, self._config.early_s, self._config.late_s)
            if timing == CheckInWindow.TOO_EARLY:
                raise QueueRuleError("appointment_too_early")
            secret = secrets.token_urlsafe(24)
            work = self._work(q, current, now, timing, via, customer_id, secret)
            ticket = await self._desk.settle(q, self._uow.submit(work))
        self._registry.where[ticket.id] = q.config.id
        self._metrics.ticket_checkins.labels(via=via).inc()
        await self.load()
        await self._desk.announce_approaching(q.config.id)
        self._announcer.changed(q)
        return ticket, secret

    def _work(
        self,
        q: QueueState,
        booking: Appointment,
        now: datetime,
        timing: CheckInWindow,
        via: str,
        customer_id: str | None,
        secret: str,
    ) -> Callable[[], tuple[tuple[Ticket, tuple[Ticket, ...]], Sequence[DomainEvent]]]:
        draft = Ticket(
            id=secrets.token_urlsafe(9),
            queue=q.config.id,
            number=0,
            state=TicketState.WAITING,
            sort_key=0.0,
            created_at=now,
            # Only a check-in by hand passes the secret on (the tablet shows the ticket
            # page's QR code); otherwise the customer follows the board and the counter.
            secret_hash=hash_secret(secret),
            name=booking.name,
            party_size=booking.party_size,
            checked_in_at=now,
            customer_id=customer_id,
            appointment_id=booking.id,
            booked_at=booking.at if timing == CheckInWindow.ON_TIME else None,
        )
        draft = replace(draft, sort_key=q.book.place(draft))
        ahead = sum(1 for t in q.book.waiting() if t.sort_key < draft.sort_key)
        predicted: WaitRange = self._registry.estimate(q, ahead)
        draft = replace(draft, predicted_low_s=predicted.low_s, predicted_high_s=predicted.high_s)
        day = self._registry.local_day(now)

        def work() -> tuple[tuple[Ticket, tuple[Ticket, ...]], Sequence[DomainEvent]]:
            ticket = replace(draft, number=self._tickets.next_number(q.config.id, day))
            self._tickets.save(ticket)
            self._repo.mark(booking.id, AppointmentStatus.CHECKED_IN, ticket.id)
            joined, events = q.book.join(ticket)
            events.append(
                AppointmentCheckedIn(
                    booking.id, q.config.id, ticket.id, ticket.number, rfc3339(booking.at),
                    timing.value, via,
                )
            )  # fmt: skip
            return (joined, ()), events

        return work

    # --- time --------------------------------------------------------------------------------

    async def expire(self) -> int:
        """Bookings nobody checked in for become no-shows; a new day reloads the list."""
        now = self._clock.now()
        if self._registry.local_day(now) != self._day:
            await self.load()
        limit = timedelta(seconds=self._config.no_show_after_s)
        overdue = [a for items in self._expected.values() for a in items if now - a.at > limit]
        if not overdue:
            return 0

        def work() -> tuple[None, Sequence[DomainEvent]]:
            events: list[DomainEvent] = []
            for a in overdue:
                self._repo.mark(a.id, AppointmentStatus.NO_SHOW)
                events.append(AppointmentNoShow(a.id, a.queue, rfc3339(a.at)))
            return None, events

        await self._uow.commit(work)
        await self.load()
        for queue in {a.queue for a in overdue}:
            self._announcer.changed(self._registry.get(queue))
        return len(overdue)

    async def purge(self) -> int:
        """Retention: bookings of days before yesterday (store time) are deleted, with what
        became of them; a ticket made from one follows the tickets' own retention."""
        before = self._registry.local_day(self._clock.now() - timedelta(days=1))
        return await self._uow.commit(lambda: (self._repo.purge(before), ()))
