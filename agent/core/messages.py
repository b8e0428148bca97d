"""Messages that stay inside the agent: internal events and commands for the message bus.

Wire events (`agent.core.events`) go up to the central service through the outbox and are
also dispatched on the bus. The events here are facts other services react to but that the
contract does not carry; commands are requests with exactly one handler (an inbound MQTT
message, a ticket code at the camera). All of them are frozen and slotted, like wire events.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.core.alerts import ArrivalAlert
from agent.core.customers import CustomerMessage, CustomerRecord


@dataclass(frozen=True, slots=True)
class InternalEvent:
    """Base of the events dispatched after commit but never written to the outbox."""


@dataclass(frozen=True, slots=True)
class CustomerRecordsChanged(InternalEvent):
    """Consenting customers' records were stored, in this order (recognition updates its
    tables). One event for a run of records: a resync stores 20k in a burst, and an event and
    an EID table update per record were a third of the loop's work (benchmarks/PROFILE.md)."""

    records: tuple[CustomerRecord, ...]


@dataclass(frozen=True, slots=True)
class CustomerForgotten(InternalEvent):
    """Erase, revoke or consent withdrawn, committed in one transaction.

    ``alert_ids`` are every arrival alert about the customer the store still held (read in
    that same transaction, so it holds across restarts and after the customer left); they
    are withdrawn from the tablets after the commit.
    """

    customer_id: str
    op: str  # "erase" | "revoke"
    alert_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CustomerIdentified(InternalEvent):
    """A consenting customer was recognised at the door (a new visit or seen again)."""

    customer_id: str
    via: str


@dataclass(frozen=True, slots=True)
class AlertRaised(InternalEvent):
    """An arrival alert was stored; it is shown on the tablets after the commit."""

    alert: ArrivalAlert


@dataclass(frozen=True, slots=True)
class AlertAcked(InternalEvent):
    alert_id: str
    by: str


# --- commands ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Command:
    """Base of the requests the bus routes to exactly one handler, awaited by the sender."""


@dataclass(frozen=True, slots=True)
class ApplyCustomerMessage(Command):
    """A parsed record or tombstone from `{p}/chain/customers/{id}`."""

    message: CustomerMessage


@dataclass(frozen=True, slots=True)
class CheckInTicketCode(Command):
    """A queue ticket's QR code read at a counter camera (it says nothing about who)."""

    payload: str
