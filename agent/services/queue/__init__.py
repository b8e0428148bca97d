"""The virtual queue as a service (see service.py for the facade the agent holds).

state.py     the queues in memory: books, estimators, locks; load and reload
tickets.py   joins and every transition, under the queue's lock, settled after commit
checkin.py   ticket holders at the door; the tickets' link to recognised customers
timers.py    late calls, automatic no-shows, retention
window.py    window, sticker and form tokens
views.py     what customers, staff and passers-by see
announce.py  gauges and live pages after each change
"""

from agent.services.queue.service import QueueService
from agent.services.queue.tickets import JoinRequest, QueueUnavailable, hash_secret
from agent.services.queue.views import (
    EstimateAccuracy,
    QueueSummary,
    StaffQueue,
    StaffTicketView,
    TicketView,
)

__all__ = [
    "EstimateAccuracy",
    "JoinRequest",
    "QueueService",
    "QueueSummary",
    "QueueUnavailable",
    "StaffQueue",
    "StaffTicketView",
    "TicketView",
    "hash_secret",
]
