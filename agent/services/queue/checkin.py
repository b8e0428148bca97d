"""Ticket holders at the door: a ticket's QR code shown to a counter camera, or a recognised
customer who joined with their loyalty pass. Also the link between tickets and customers."""

from __future__ import annotations

import contextlib
import logging
from dataclasses import replace

from agent.core.queue import QueueRuleError, Ticket
from agent.core.ticket_codes import ticket_code, ticket_from_code
from agent.metrics import Metrics
from agent.services.queue.state import QueueRegistry
from agent.services.queue.tickets import TicketDesk

_LOGGER = logging.getLogger(__name__)


class CheckIns:
    def __init__(
        self, registry: QueueRegistry, desk: TicketDesk, metrics: Metrics, ticket_key: bytes
    ) -> None:
        self._registry = registry
        self._desk = desk
        self._metrics = metrics
        self._ticket_key = ticket_key

    def ticket_code(self, ticket: Ticket) -> str:
        """What the QR code on the customer's ticket page says (agent.core.ticket_codes)."""
        return ticket_code(self._ticket_key, ticket.id)

    async def check_in_code(self, payload: str) -> bool:
        """A ticket QR code read by a counter camera; False if it is not a live ticket's."""
        ticket_id = ticket_from_code(self._ticket_key, payload)
        if ticket_id is None or ticket_id not in self._registry.where:
            return False
        try:
            await self._check_in(ticket_id, "ticket_qr")
        except QueueRuleError:
            return False
        return True

    async def check_in_customer(self, customer_id: str, via: str) -> int:
        """A recognised customer at the door: check in every live ticket they joined with."""
        held = [t.id for t in self._held_by(customer_id)]
        done = 0
        for ticket_id in held:
            with contextlib.suppress(QueueRuleError, LookupError):
                await self._check_in(ticket_id, via)
                done += 1
        return done

    def unlink_customer(self, customer_id: str) -> None:
        """Revoke, erase or consent withdrawn: live tickets in memory lose their link to the
        customer at once (the store's rows are cleared in the same transaction as the rest of
        what is forgotten about them, by whoever handles that)."""
        for ticket in self._held_by(customer_id):
            self._registry.queues[ticket.queue].book.apply(replace(ticket, customer_id=None))

    def _held_by(self, customer_id: str) -> list[Ticket]:
        return [
            t
            for q in self._registry.queues.values()
            for t in q.book.waiting() + q.book.called()
            if t.customer_id == customer_id
        ]

    async def _check_in(self, ticket_id: str, via: str) -> Ticket:
        ticket = await self._desk.transition(
            ticket_id, lambda q, t, now: q.book.check_in(t, now, via)
        )
        self._metrics.ticket_checkins.labels(via=via).inc()
        return ticket
