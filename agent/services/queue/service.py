"""The virtual queue as a service: decisions from the core, durability from the store, live
updates through the hub.

`QueueService` is the one object the rest of the agent holds; it builds the collaborators that
each do one job (see the package's modules) over one shared registry of queues, and forwards
to them.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Sequence

from agent.config.model import AgentConfig, QueueConfig
from agent.core.appointments import ApplyAppointmentDay
from agent.core.ports import Clock
from agent.core.queue import LeftReason, Ticket
from agent.core.window_token import WindowTokens
from agent.metrics import Metrics
from agent.services.hub import Hub
from agent.services.queue.actions import StaffActions
from agent.services.queue.announce import Announcer
from agent.services.queue.appointments import AppointmentDesk
from agent.services.queue.checkin import CheckIns
from agent.services.queue.priorities import PriorityDesk
from agent.services.queue.state import QueueRegistry
from agent.services.queue.tickets import JoinRequest, TicketDesk, hash_secret
from agent.services.queue.timers import QueueTimers
from agent.services.queue.views import (
    BOARD_SIZE,
    BoardView,
    QueueSummary,
    QueueViews,
    StaffQueue,
    StaffTicketView,
    TicketView,
    board_queue,
)
from agent.services.queue.window import WindowAccess
from agent.store.appointments import AppointmentRepository
from agent.store.push import PushSubscriptions
from agent.store.tickets import TicketRepository
from agent.store.unit_of_work import UnitOfWork

_LOGGER = logging.getLogger(__name__)


class QueueService:
    def __init__(
        self,
        config: AgentConfig,
        uow: UnitOfWork,
        tickets: TicketRepository,
        tokens: WindowTokens,
        clock: Clock,
        metrics: Metrics,
        hub: Hub,
        *,
        static_generation: Callable[[str], int],
        ticket_key: bytes,
        identify_pass: Callable[[str], str | None] | None = None,
        subscriptions: PushSubscriptions,
        inside: Callable[[], int] | None = None,
        appointments: AppointmentRepository,
        tier_priority: Callable[[str], str | None] | None = None,
    ) -> None:
        registry = QueueRegistry(config, uow, tickets, clock)
        self._registry = registry
        self._queues = registry.queues
        self._window = WindowAccess(tokens, registry, clock, static_generation)
        self.tokens = tokens
        self._uow, self._tickets, self._clock = uow, tickets, clock  # the board's reads
        self._views = QueueViews(registry, clock)
        self._announcer = Announcer(registry, self._views, hub, metrics, clock)
        self._desk = TicketDesk(
            registry,
            uow,
            tickets,
            self._window,
            self._announcer,
            clock,
            metrics,
            identify_pass,
            subscriptions,
            tier_priority,
        )
        self._priorities = PriorityDesk(self._desk)
        self._appointments = AppointmentDesk(
            registry,
            self._desk,
            uow,
            tickets,
            appointments,
            self._announcer,
            clock,
            metrics,
            config.appointments,
        )
        registry.booked_ahead = self._appointments.extra_ahead
        self._views.booked = self._appointments.booked_views
        self._checkins = CheckIns(registry, self._desk, metrics, ticket_key)
        self._actions = StaffActions(
            registry, self._desk, uow, tickets, self._announcer, clock, metrics
        )
        self._timers = QueueTimers(
            registry,
            self._desk,
            self._actions,
            self._announcer,
            uow,
            tickets,
            subscriptions,
            clock,
            config.storage,
            capacity=config.occupancy.capacity,
            inside=inside,
        )

    async def load(self) -> None:
        await self._registry.load()
        await self._appointments.load()
        self._announcer.refresh_metrics()

    # --- reading ---------------------------------------------------------------------------

    def queue_ids(self) -> list[str]:
        return list(self._queues)

    def queue_config(self, queue: str) -> QueueConfig:
        return self._registry.get(queue).config

    def is_open(self) -> bool:
        return self._registry.is_open()

    async def ticket(self, ticket_id: str) -> Ticket | None:
        return await self._desk.ticket(ticket_id)

    def active_ticket(self, ticket_id: str) -> Ticket | None:
        """An active ticket, from memory; None for any other (`ticket` reads those)."""
        return self._registry.active(ticket_id)

    @staticmethod
    def secret_matches(ticket: Ticket, secret: str) -> bool:
        return hmac.compare_digest(ticket.secret_hash, hash_secret(secret))

    def ticket_code(self, ticket: Ticket) -> str:
        return self._checkins.ticket_code(ticket)

    # --- window tokens ---------------------------------------------------------------------

    def static_token(self, queue: str) -> str:
        return self._window.static_token(queue)

    def window_token(self, queue: str) -> str:
        return self._window.window_token(queue)

    def token_valid(self, queue: str, token: str) -> bool:
        return self._window.token_valid(queue, token)

    def form_token(self, queue: str) -> str:
        return self._window.form_token(queue)

    # --- views -----------------------------------------------------------------------------

    def view(self, ticket: Ticket) -> TicketView:
        return self._views.view(ticket)

    def watched_view(self, ticket: Ticket) -> TicketView:
        """The view a ticket's stream sends: its wait shared with every stream woken by the
        same change (announce.py), not worked out per phone."""
        return self._views.view(ticket, self._announcer.place(ticket))

    def staff_view(self, ticket: Ticket) -> StaffTicketView:
        return self._views.staff_view(ticket)

    def queue_view(self, queue: str) -> StaffQueue:
        return self._views.queue_view(queue)

    def latest_queue_view(self, queue: str) -> tuple[int, StaffQueue]:
        """The staff view a tablet's stream sends, with its change count (announce.py)."""
        return self._announcer.latest(queue)

    def summary(self, queue: str) -> QueueSummary:
        return self._views.summary(queue)

    async def board(self, queues: Sequence[str] | None = None) -> BoardView:
        """The "now serving" board (contract 8.6): each queue's last numbers called today.
        Read from the store, since a number stays on the board after it was served."""
        now = self._clock.now()
        chosen = [q for q in (queues or self._queues) if q in self._queues]
        rows = []
        for queue in chosen:
            # More than shown: yesterday's calls are read too, and dropped.
            called = await self._uow.read(self._tickets.recent_called, queue, 2 * BOARD_SIZE)
            label = self._registry.get(queue).config.label
            rows.append(board_queue(queue, label, called, self._registry.local_day, now))
        return BoardView(queues=tuple(rows))

    # --- customers -------------------------------------------------------------------------

    async def join(self, queue: str, request: JoinRequest, client: str) -> tuple[Ticket, str]:
        return await self._desk.join(queue, request)

    async def leave(self, ticket: Ticket) -> Ticket:
        return await self._desk.leave(ticket.id, LeftReason.CUSTOMER)

    async def snooze(self, ticket: Ticket) -> Ticket:
        return await self._desk.snooze(ticket)

    async def check_in_code(self, payload: str) -> bool:
        """A ticket's QR code, or else a booking confirmation's (issue 14)."""
        if await self._checkins.check_in_code(payload):
            return True
        return await self._appointments.check_in_code(payload)

    async def check_in_customer(self, customer_id: str, via: str) -> int:
        tickets = await self._checkins.check_in_customer(customer_id, via)
        return tickets + await self._appointments.check_in_customer(customer_id, via)

    async def check_in_booking(self, appointment_id: str) -> tuple[Ticket, str]:
        """Staff check a booking in by hand (issue 14): the ticket and its secret;
        LookupError, or QueueRuleError."""
        return await self._appointments.check_in_by_staff(appointment_id)

    async def apply_appointments(self, command: ApplyAppointmentDay) -> bool:
        """The central service's appointments of a day (issue 14; a bus command)."""
        return await self._appointments.apply_day(command)

    def unlink_customer(self, customer_id: str) -> None:
        self._checkins.unlink_customer(customer_id)
        self._appointments.unlink(customer_id)

    # --- staff -----------------------------------------------------------------------------

    async def call_next(self, queue: str, device: str | None, counter: str | None = None) -> Ticket:
        return await self._desk.call_next(queue, device, counter)

    async def call(self, ticket_id: str, device: str | None, counter: str | None = None) -> Ticket:
        return await self._actions.call(ticket_id, device, counter)

    async def move(self, ticket_id: str, queue: str) -> Ticket:
        return await self._actions.move(ticket_id, queue)

    async def undo(self, ticket_id: str) -> Ticket:
        return await self._actions.undo(ticket_id)

    async def prioritise(self, ticket_id: str, priority: str | None) -> Ticket:
        """Issue 14: put a waiting ticket in a priority class, or (None) take it out."""
        return await self._priorities.mark(ticket_id, priority)

    async def staff_leave(self, ticket_id: str) -> Ticket:
        return await self._actions.leave(ticket_id)

    async def visit_left(self, customer_id: str) -> int:
        """A recognised customer's visit ended (bus handler on `visit.left`)."""
        return await self._actions.visit_left(customer_id)

    async def served(self, ticket_id: str) -> Ticket:
        return await self._desk.served(ticket_id)

    async def no_show(self, ticket_id: str) -> Ticket:
        return await self._desk.no_show(ticket_id)

    async def recall(self, ticket_id: str) -> Ticket:
        return await self._desk.recall(ticket_id)

    # --- time ------------------------------------------------------------------------------

    async def expire_overdue_calls(self) -> int:
        await self._appointments.expire()  # bookings nobody came for: no-shows
        return await self._timers.expire_overdue_calls()

    async def purge(self) -> int:
        return await self._timers.purge() + await self._appointments.purge()
