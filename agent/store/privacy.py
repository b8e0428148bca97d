"""Forgetting a customer: every table that holds something about them, in one transaction.

The one list of what an erase or a revoke touches (docs/privacy.md): the customer record
(a tombstone stays), their visits (deleted on erase, anonymised on revoke), their arrival
alerts, their tickets' link, and on erase the local sent-log copies of delivered events.
Call `forget` inside a unit-of-work's work, so it all commits or none of it does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from agent.core.customers import Tombstone
from agent.store.appointments import AppointmentRepository
from agent.store.customers import CustomerRepository
from agent.store.outbox import Outbox
from agent.store.tickets import TicketRepository
from agent.store.visits import VisitRepository


@dataclass(frozen=True, slots=True)
class Forgotten:
    alert_ids: tuple[str, ...]  # the alerts to withdraw from the tablets after the commit
    records_deleted: int  # customer row, visits and alerts deleted (erase) or 1/0 (revoke)


class CustomerForgetting:
    def __init__(
        self,
        customers: CustomerRepository,
        visits: VisitRepository,
        tickets: TicketRepository,
        outbox: Outbox,
        appointments: AppointmentRepository | None = None,
    ) -> None:
        self._appointments = appointments
        self._customers = customers
        self._visits = visits
        self._tickets = tickets
        self._outbox = outbox

    def forget(self, tombstone: Tombstone, now: datetime) -> Forgotten:
        customer_id = tombstone.customer_id
        # Read before the rows go: the store, not memory, knows every alert ever shown.
        alert_ids = tuple(self._visits.alerts_of(customer_id))
        deleted = self._customers.forget(tombstone, now)
        self._tickets.forget_customer(customer_id)
        if self._appointments is not None:  # their bookings of the day (docs/privacy.md)
            self._appointments.forget_customer(customer_id, erase=tombstone.op == "erase")
        if tombstone.op == "erase":
            deleted += self._visits.erase(customer_id)
            # The local copy of delivered events about them goes too (the sent log).
            self._outbox.forget_customer(customer_id)
        else:
            self._visits.anonymise(customer_id)
        return Forgotten(alert_ids, deleted)
