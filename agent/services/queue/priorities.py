"""Priority classes on waiting tickets (issue 14): staff mark or unmark one, and a customer
who joined with their loyalty pass gets the class their tier maps to.

The ordering itself is the core's (agent.core.priority): a class is a bounded credit on the
join time. This module only decides which class, and commits the change like every other
transition, through the `TicketDesk`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from agent.config.queue_extras import PriorityConfig
from agent.core.events import DomainEvent
from agent.core.queue import Ticket
from agent.services.queue.state import QueueState
from agent.services.queue.tickets import TicketDesk


def tier_priority(
    classes: tuple[PriorityConfig, ...], tier_of: Callable[[str], str | None]
) -> Callable[[str], str | None]:
    """customer id -> the best-ranked class whose `tiers` has the customer's `profile.tier`.

    ``tier_of`` gives a tier only for a customer who consented to `staff_profile`
    (`CustomerDirectory.tier`): the class shows on the tablet, and it would tell staff the
    customer's tier otherwise."""
    by_tier: dict[str, str] = {}
    for c in classes:  # already by rank: the first class that claims a tier keeps it
        for tier in c.tiers:
            by_tier.setdefault(tier, c.name)

    def lookup(customer_id: str) -> str | None:
        tier = tier_of(customer_id)
        return None if tier is None else by_tier.get(tier)

    return lookup


class PriorityDesk:
    def __init__(self, desk: TicketDesk) -> None:
        self._desk = desk

    async def mark(self, ticket_id: str, priority: str | None) -> Ticket:
        """Put a waiting ticket in ``priority`` (None: no priority); 409 unless waiting."""

        def decide(q: QueueState, t: Ticket, _now: datetime) -> tuple[Ticket, list[DomainEvent]]:
            return q.book.prioritise(t, priority, "staff")

        return await self._desk.transition(ticket_id, decide)
