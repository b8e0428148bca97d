"""What the queue looks like to a customer, to staff and to anyone passing by."""

from __future__ import annotations

from agent.core.clock import rfc3339
from agent.core.estimate import WaitRange
from agent.core.ports import Clock
from agent.core.queue import Ticket, TicketState
from agent.services.queue.state import QueueRegistry


class QueueViews:
    def __init__(self, registry: QueueRegistry, clock: Clock) -> None:
        self._registry = registry
        self._clock = clock

    def view(self, ticket: Ticket) -> dict[str, object]:
        """The contract's Ticket object (plus name, party size and whether it was snoozed)."""
        q = self._registry.queues.get(ticket.queue)
        position = 0
        eta = WaitRange(0, 0)
        if q is not None and ticket.state == TicketState.WAITING:
            position = q.book.position(ticket.id) or 0
            eta = self._registry.estimate(q, max(0, position - 1))
        return {
            "id": ticket.id,
            "queue": ticket.queue,
            "number": ticket.number,
            "state": ticket.state.value,
            "position": position,
            "eta": eta.as_json(),
            "created_at": rfc3339(ticket.created_at),
            "called_at": None if ticket.called_at is None else rfc3339(ticket.called_at),
            "name": ticket.name,
            "party_size": ticket.party_size,
            "snoozed": ticket.snoozed,
            "recalls": ticket.recalls,  # a recall changes the view, so phones alert again
        }

    def staff_view(self, ticket: Ticket) -> dict[str, object]:
        q = self._registry.get(ticket.queue)
        now = self._clock.now()
        view = self.view(ticket)
        view["waited_s"] = int((now - ticket.created_at).total_seconds())
        grace_from = ticket.grace_started_at()
        view["late"] = bool(
            ticket.state == TicketState.CALLED
            and grace_from
            and (now - grace_from).total_seconds() > q.config.grace_s
        )
        view["at_door"] = ticket.checked_in_at is not None
        return view

    def queue_view(self, queue: str) -> dict[str, object]:
        q = self._registry.get(queue)
        return {
            "queue": queue,
            "label": q.config.label,
            "waiting": [self.staff_view(t) for t in q.book.waiting()],
            "called": [self.staff_view(t) for t in q.book.called()],
            "accuracy": {
                "tickets": q.accuracy.count,
                "mean_abs_error_s": q.accuracy.mean_absolute_error_s(),
                "underestimate_share": q.accuracy.underestimate_share(),
            },
        }

    def summary(self, queue: str) -> dict[str, object]:
        """What anyone may see: label, people waiting, the wait range for a newcomer."""
        q = self._registry.get(queue)
        waiting = q.book.waiting_count()
        return {
            "queue": queue,
            "label": q.config.label,
            "waiting": waiting,
            "eta": self._registry.estimate(q, waiting).as_json(),
            "open": self._registry.is_open(),
            "full": waiting >= q.config.max_waiting,
        }
