"""The one place that builds the agent: picks adapters or simulators and wires everything.

Nothing else constructs collaborators; everything is passed in explicitly, so a test builds
the same graph with a fake clock or a simulator in place of a radio. How services react to
each other is the message bus's handler table, `_handlers` below: read it to know every
reaction (DESIGN.md §11).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from agent import __version__
from agent.adapters.webpush import WebPushSender
from agent.config.model import AgentConfig
from agent.core.address_cache import AddressCache
from agent.core.appointments import ApplyAppointmentDay
from agent.core.clock import SystemClock
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
    CustomerRecordChanged,
)
from agent.core.playbook import ApplyPlaybook
from agent.core.ports import Clock
from agent.core.presence import Presence, PresenceSettings
from agent.core.push import EndpointPolicy
from agent.core.readings import AppCheckin
from agent.core.resend import ResendRequest
from agent.core.suggestion_events import SuggestionOutcome, SuggestionShown, SuggestionWithheld
from agent.core.ticket_codes import derive_key as derive_ticket_key
from agent.core.window_token import WindowTokens
from agent.daemon import AgentDaemon
from agent.devices import RecognitionWiring, SourceSpec, device_source, ticket_printer
from agent.metrics import Metrics
from agent.services.alerts import AlertBoard
from agent.services.customers import CustomerService
from agent.services.directory import CustomerDirectory
from agent.services.footfall import FootfallService
from agent.services.health import HealthMonitor
from agent.services.home_assistant import DiscoveryTopics, HomeAssistantBridge
from agent.services.hub import STAFF_TOPIC, Hub
from agent.services.messagebus import CommandHandlers, EventHandlers, MessageBus
from agent.services.printing import TicketPrinting
from agent.services.push import PushService
from agent.services.queue import QueueService
from agent.services.queue.priorities import tier_priority
from agent.services.recognition import RecognitionService
from agent.services.reports import ReportService
from agent.services.staff import StaffService
from agent.services.suggestions import SuggestionService, holdout_key
from agent.store.appointments import AppointmentRepository
from agent.store.customers import CustomerRepository
from agent.store.database import Database
from agent.store.footfall import FootfallRepository
from agent.store.outbox import Outbox
from agent.store.privacy import CustomerForgetting
from agent.store.push import PushSubscriptions
from agent.store.reports import ReportQueries
from agent.store.runner import StoreRunner
from agent.store.secrets import static_generation, vapid_private_key, window_secret
from agent.store.staff import StaffRepository
from agent.store.suggestions import SuggestionRepository
from agent.store.tickets import TicketRepository
from agent.store.unit_of_work import UnitOfWork
from agent.store.visits import VisitRepository
from agent.sync.appointments_inbound import AppointmentsInbound
from agent.sync.inbound import InboundAdapter
from agent.sync.link import MqttLink
from agent.sync.playbook_inbound import PlaybookInbound
from agent.sync.publisher import OutboxPublisher
from agent.sync.resend import ResendHandler
from agent.sync.topics import Topics
from agent.web.alerts_api import alerts_router
from agent.web.app import create_app
from agent.web.board import board_router
from agent.web.context import WebContext
from agent.web.customer_api import customer_router
from agent.web.health import health_router
from agent.web.manager import manager_router
from agent.web.pages import pages_router
from agent.web.printer_api import print_wording, printer_router
from agent.web.push_api import push_router, push_wording
from agent.web.queue_extras_api import queue_extras_router
from agent.web.recognition_api import recognition_router
from agent.web.server import WebServer
from agent.web.staff_api import staff_router


@dataclass
class Components:
    """Everything one agent instance is made of, built and owned together."""

    config: AgentConfig
    clock: Clock
    metrics: Metrics
    runner: StoreRunner
    database: Database
    outbox: Outbox
    bus: MessageBus
    uow: UnitOfWork
    customers: CustomerService
    topics: Topics
    link: MqttLink | None
    hub: Hub
    queues: QueueService
    staff: StaffService
    footfall: FootfallService
    recognition: RecognitionService
    alerts: AlertBoard
    push: PushService
    suggestions: SuggestionService
    health: HealthMonitor
    sources: list[SourceSpec]
    printing: TicketPrinting
    reports: ReportService
    extras: dict[str, object] = field(default_factory=dict)
    home_assistant: HomeAssistantBridge | None = None


def build(
    config: AgentConfig, *, clock: Clock | None = None, rng: random.Random | None = None
) -> Components:
    """Open the database (taking the one-agent lock) and wire every component."""
    clock = clock or SystemClock()
    rng = rng or random.Random()
    metrics = Metrics()
    runner = StoreRunner()
    try:
        database = runner.call(Database.open, config.storage.path, store_id=config.store.id)
    except BaseException:
        runner.close()
        raise
    outbox = Outbox(
        database,
        config.store.id,
        clock,
        sent_keep_events=config.storage.sent_keep_events,
        sent_keep_s=config.storage.sent_keep_h * 3600,
    )
    bus = MessageBus(metrics)
    uow = UnitOfWork(runner, database, outbox, bus)
    visits = VisitRepository(database)
    tickets = TicketRepository(database)
    customer_repository = CustomerRepository(database)
    appointments = AppointmentRepository(database)
    forgetting = CustomerForgetting(customer_repository, visits, tickets, outbox, appointments)
    customers = CustomerService(uow, customer_repository, forgetting, clock, metrics)
    hub = Hub()
    directory = CustomerDirectory()
    rc = config.recognition
    suggestion_repository = SuggestionRepository(database)
    suggestions = SuggestionService(
        uow,
        suggestion_repository,
        directory,
        clock,
        metrics,
        config=config.playbook,
        zone=config.store.timezone,
        key=holdout_key(config.playbook, runner.call(window_secret, database)),
        queue_labels={q.id: q.label for q in config.queues},
        note_retention_days=rc.visit_retention_days,
        central_document=runner.call(suggestion_repository.central_playbook),
    )
    recognition = RecognitionService(
        uow,
        customer_repository,
        visits,
        Presence(
            PresenceSettings(
                door_rssi_dbm=rc.door_rssi_dbm,
                arrive_after_s=rc.arrive_after_s,
                leave_after_s=rc.leave_after_s,
                untracked_visit_s=rc.untracked_visit_s,
                alert_cooldown_s=rc.alert_cooldown_s,
            )
        ),
        AddressCache(rc.address_cache_size, 60.0, rc.unresolved_ttl_s),
        clock,
        metrics,
        bus,
        directory,
        pass_public_key=rc.pass_public_key,
        suggestions=suggestions,
    )
    alerts = AlertBoard(
        uow,
        visits,
        directory,
        clock,
        metrics,
        hub,
        alert_retention_h=rc.alert_retention_h,
        shown_suggestions=suggestions.shown_now,
    )
    hub.provide_snapshot(STAFF_TOPIC, alerts.snapshot)
    topics = Topics(config.mqtt.topic_prefix if config.mqtt else "retail/v1", config.store.id)
    link = None
    resend = None
    if config.mqtt is not None:
        publisher = OutboxPublisher(
            uow,
            outbox,
            metrics,
            topic=topics.events,
            window=config.mqtt.inflight_window,
            batch_max_events=config.mqtt.batch_max_events,
        )
        resend = ResendHandler(uow, outbox, publisher, metrics)
        inbound = InboundAdapter(topics, bus.handle, clock, metrics)
        link = MqttLink(
            config.mqtt,
            topics,
            publisher,
            [
                *inbound.routes(),
                PlaybookInbound(topics, bus.handle, metrics).route(),
                AppointmentsInbound(topics, bus.handle, metrics).route(),
            ],
            metrics=metrics,
            clock=clock,
            version=__version__,
            rng=rng,
            jobs=inbound.jobs(),
        )
    # Before the queues: an entry queue calls while the store is below capacity.
    footfall = FootfallService(
        config,
        uow,
        FootfallRepository(database),
        clock,
        metrics,
        hub,
        occupancy_topic=topics.occupancy,
        publish_retained=link.set_retained if link is not None else None,
    )
    secret, generations = runner.call(_window_secrets, database, config)
    tickets = TicketRepository(database)
    subscriptions = PushSubscriptions(database)
    queues = QueueService(
        config,
        uow,
        tickets,
        WindowTokens(secret),
        clock,
        metrics,
        hub,
        static_generation=lambda queue: generations.get(queue, 1),
        ticket_key=derive_ticket_key(secret),
        identify_pass=recognition.identify_pass,
        subscriptions=subscriptions,
        inside=lambda: footfall.occupancy.inside,
        tier_priority=tier_priority(config.priorities, recognition.directory.get),
        appointments=appointments,
    )
    pc = config.push
    push = PushService(
        uow,
        subscriptions,
        WebPushSender(
            runner.call(vapid_private_key, database),
            pc.subject,
            EndpointPolicy.of(pc.endpoint_hosts),
            clock,
            timeout_s=pc.timeout_s,
            proxy=pc.proxy,
        ),
        queues.ticket,
        push_wording,
        lambda queue: queues.queue_config(queue).label if queue in queues.queue_ids() else queue,
        clock,
        metrics,
        pc,
        config.http.public_url,
        rng=rng,
    )
    staff = StaffService(uow, StaffRepository(database), clock)
    printing = TicketPrinting(
        ticket_printer(config.printer),
        hub=hub,
        metrics=metrics,
        clock=clock,
        timezone=config.store.timezone,
        store_name=config.store.name,
        public_url=config.http.public_url,
        queue_label=lambda q: queues.queue_config(q).label if q in queues.queue_ids() else q,
        wording=print_wording,
        print_walk_ins=config.printer.print_walk_ins if config.printer else False,
    )
    wiring = RecognitionWiring(clock, metrics, recognition, rc.scanner_watchdog_s)
    sources = [
        spec
        for device in config.devices
        if (spec := device_source(device, wiring, footfall.count)) is not None
    ]
    events, commands = _handlers(customers, recognition, alerts, queues, push, resend, suggestions)
    bus.bind(events, commands)
    return Components(
        config=config,
        clock=clock,
        metrics=metrics,
        runner=runner,
        database=database,
        outbox=outbox,
        bus=bus,
        uow=uow,
        customers=customers,
        topics=topics,
        link=link,
        hub=hub,
        queues=queues,
        staff=staff,
        footfall=footfall,
        recognition=recognition,
        alerts=alerts,
        push=push,
        suggestions=suggestions,
        health=HealthMonitor(uow, outbox, link, clock, metrics),
        sources=sources,
        printing=printing,
        reports=ReportService(
            uow,
            ReportQueries(database),
            clock,
            timezone=config.store.timezone,
            max_days=config.storage.ticket_retention_days,
        ),
        extras=wiring.simulators,
        home_assistant=_home_assistant(config, topics, link, queues, hub, clock),
    )


def _home_assistant(
    config: AgentConfig,
    topics: Topics,
    link: MqttLink | None,
    queues: QueueService,
    hub: Hub,
    clock: Clock,
) -> HomeAssistantBridge | None:
    """Opt-in: discovery configs and queue states, retained through the MQTT link."""
    if not config.home_assistant.discovery or link is None:
        return None
    return HomeAssistantBridge(
        config,
        DiscoveryTopics(topics.status, topics.occupancy, topics.queue_state),
        queues.summary,
        hub,
        clock,
        link.set_retained,
        version=__version__,
    )


def assemble(components: Components) -> AgentDaemon:
    """A ready daemon for these components: the web app with every router, and its server."""
    c = components
    web = WebContext.create(
        c.config,
        c.clock,
        c.metrics,
        c.hub,
        c.queues,
        c.staff,
        c.footfall.snapshot,
        c.footfall.hours,
        c.printing,
    )
    app = create_app(
        [
            health_router(c.health.report, c.metrics),
            customer_router(web),
            staff_router(web),
            queue_extras_router(web),
            pages_router(web),
            recognition_router(web, c.recognition),
            push_router(web, c.push),
            board_router(web),
            printer_router(web, c.printing),
            manager_router(web, c.reports),
            alerts_router(web, c.suggestions),
        ],
        c.metrics,
    )
    closed = c.metrics.http_connections_closed
    server = WebServer(
        app,
        c.config.http.bind,
        c.config.http.port,
        on_connection_closed=lambda reason: closed.labels(reason=reason).inc(),
    )
    return AgentDaemon(components, server)


def build_daemon(
    config: AgentConfig, *, clock: Clock | None = None, rng: random.Random | None = None
) -> AgentDaemon:
    """`build` then `assemble`: what `retail-edge run` and the demo start."""
    return assemble(build(config, clock=clock, rng=rng))


def _window_secrets(database: Database, config: AgentConfig) -> tuple[bytes, dict[str, int]]:
    """The device's window-token key (made on first start) and each queue's sticker
    generation (bumped to invalidate printed stickers)."""
    return window_secret(database), {q.id: static_generation(database, q.id) for q in config.queues}


def _handlers(
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
        # A consenting customer's record stored: recognise them from now on.
        CustomerRecordChanged: [recognition.customer_changed],
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
