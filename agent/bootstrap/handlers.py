"""Every reaction of one service to another, and who handles each command: the message bus's
handler table (DESIGN.md §11). Read it to know what happens after a commit."""

from __future__ import annotations

from agent.core.appointments import ApplyAppointmentDay
from agent.core.customer_sync import ApplyCustomerBatch, ReadHeldRecords
from agent.core.events import (
    QueueApproaching,
    QueueCalled,
    QueueRecalled,
    VisitArrived,
    VisitLeft,
)
from agent.core.messages import (
    AlertAcked,
    AlertRaised,
    ApplyCustomerMessage,
    CheckInTicketCode,
    CustomerForgotten,
    CustomerIdentified,
    CustomerRecordsChanged,
)
from agent.core.playbook import ApplyPlaybook
from agent.core.readings import AppCheckin
from agent.core.resend import ResendRequest
from agent.core.suggestion_events import SuggestionOutcome, SuggestionShown, SuggestionWithheld
from agent.services.alerts import AlertBoard
from agent.services.customers import CustomerService
from agent.services.messagebus import CommandHandlers, EventHandlers
from agent.services.push import PushService
from agent.services.queue import QueueService
from agent.services.recognition import RecognitionService
from agent.services.suggestions import SuggestionService
from agent.sync.resend import ResendHandler


def service_handlers(
    customers: CustomerService,
    recognition: RecognitionService,
    alerts: AlertBoard,
    queues: QueueService,
    push: PushService,
    resend: ResendHandler | None,
    suggestions: SuggestionService,
) -> tuple[EventHandlers, CommandHandlers]:
    """Every reaction of one service to another, and who handles each command."""

    async def check_in_ticket_code(command: CheckInTicketCode) -> bool:
        return await queues.check_in_code(command.payload)

    async def check_in_tickets(event: CustomerIdentified) -> None:
        await queues.check_in_customer(event.customer_id, event.via)

    async def unlink_tickets(event: CustomerForgotten) -> None:
        queues.unlink_customer(event.customer_id)

    async def walkout_tickets(event: VisitLeft) -> None:
        await queues.visit_left(event.customer_id)

    events: EventHandlers = {
        # Consenting customers' records stored: recognise them from now on.
        CustomerRecordsChanged: [recognition.customers_changed],
        # Erase, revoke, consent withdrawn (already one committed transaction in the store):
        # forget them in memory, unlink their live tickets, take their alerts back.
        CustomerForgotten: [recognition.customer_forgotten, unlink_tickets, alerts.withdraw],
        # Recognised at the door (new visit or seen again): their tickets are checked in,
        # then the alert is shown (so it can say they are at the door for their ticket).
        CustomerIdentified: [check_in_tickets],
        AlertRaised: [alerts.show],
        AlertAcked: [alerts.acked],
        VisitArrived: [],  # goes up to the central side through the outbox only
        # A recognised customer's visit ended: their live tickets walk out after the queue's
        # walkout_grace_s unless they are seen again first (CustomerIdentified checks them in,
        # which calls the walkout off). The event also goes up through the outbox.
        VisitLeft: [walkout_tickets],
        # The customer is told on their phone (Web Push, contract 8.6); these only queue a
        # push, sent by the push worker, so no staff action waits for a push service. The
        # events also go up through the outbox (the central side may send an SMS).
        QueueApproaching: [push.approaching],
        QueueCalled: [push.called],
        QueueRecalled: [push.recalled],
        # Suggestions on arrival (contract 8.8): counted in the metrics once committed; the
        # events go up through the outbox.
        SuggestionShown: [suggestions.counted],
        SuggestionWithheld: [suggestions.counted],
        SuggestionOutcome: [suggestions.counted],
    }
    commands: CommandHandlers = {
        ApplyCustomerMessage: customers.apply,
        ApplyCustomerBatch: customers.apply_batch,
        ReadHeldRecords: customers.held_records,
        AppCheckin: recognition.checkin,
        CheckInTicketCode: check_in_ticket_code,
        ApplyPlaybook: suggestions.apply_central,  # from {p}/chain/playbook (extension)
        ApplyAppointmentDay: queues.apply_appointments,  # the day's bookings (issue 14)
    }
    if resend is not None:
        commands = {**commands, ResendRequest: resend.requeue}
    return events, commands
