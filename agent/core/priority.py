"""Where a waiting ticket goes in its queue (pure): join time, less any priority credit.

    effective join = join time - ahead_s of the ticket's priority class
                   = booked time - [appointments] ahead_s, for an appointment checked in
                     on time (agent.core.appointments)

Waiting tickets are called in effective-join order. A priority class is a bounded credit, not
a separate lane: a ticket that joined at t can only be overtaken by tickets whose effective
join is before t, so by priority tickets that joined before t + the largest credit, and never
by anyone who joins later than that. Nobody waits for ever behind a stream of priority
customers (docs/queue.md works it through; tests/unit/test_queue_priority.py checks it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from agent.core.tickets import Ticket

KEY_STEP = 1024.0  # the gap QueueBook leaves between consecutive newcomers' sort keys
# The head start of an appointment checked in on time, kept in the same mapping as the
# classes' under a key no class name can take (class names have no colon).
APPOINTMENT = ":appointment"


def effective_join(ticket: Ticket, head_starts: Mapping[str, float]) -> datetime:
    """The moment the ticket is ordered by (see the module's docstring)."""
    if ticket.booked_at is not None:
        return ticket.booked_at - timedelta(seconds=head_starts.get(APPOINTMENT, 0.0))
    credit = head_starts.get(ticket.priority, 0.0) if ticket.priority else 0.0
    return ticket.created_at - timedelta(seconds=credit)


def placed_key(
    ticket: Ticket, waiting: Sequence[Ticket], head_starts: Mapping[str, float]
) -> float | None:
    """A sort key that puts ``ticket`` among ``waiting`` (in their order, without it) before
    the first whose effective join is later than its own; None for "after everyone" (the
    caller reserves a new last key). Ties keep the ticket already there first."""
    mine = effective_join(ticket, head_starts)
    others = [t for t in waiting if t.id != ticket.id]
    later = next((i for i, t in enumerate(others) if effective_join(t, head_starts) > mine), None)
    if later is None:
        return None
    if later == 0:
        return others[0].sort_key - KEY_STEP
    return (others[later - 1].sort_key + others[later].sort_key) / 2
