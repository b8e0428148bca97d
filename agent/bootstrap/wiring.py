"""`build`: opens the store and wires every service, adapter and repository of one agent.

Nothing else constructs collaborators; everything is passed in explicitly, so a test builds
the same graph with a fake clock or a simulator in place of a radio. The optional parts are
made by the factories in `agent.bootstrap.features`; how services react to each other is the
handler table in `agent.bootstrap.handlers`.
"""

from __future__ import annotations

import random

from agent.bootstrap.components import Components
from agent.bootstrap.features import (
    home_assistant,
    push_service,
    report_service,
    sync_link,
    ticket_printing,
    window_secrets,
)
from agent.bootstrap.handlers import service_handlers
from agent.config.model import AgentConfig, RecognitionConfig
from agent.core.address_cache import AddressCache
from agent.core.clock import SystemClock
from agent.core.ports import Clock
from agent.core.presence import Presence, PresenceSettings
from agent.core.ticket_codes import derive_key as derive_ticket_key
from agent.core.window_token import WindowTokens
from agent.devices import RecognitionWiring, device_source
from agent.metrics import Metrics
from agent.services.alerts import AlertBoard
from agent.services.customers import CustomerService
from agent.services.directory import CustomerDirectory
from agent.services.footfall import FootfallService
from agent.services.health import HealthMonitor
from agent.services.hub import STAFF_TOPIC, Hub
from agent.services.messagebus import MessageBus
from agent.services.queue import QueueService
from agent.services.queue.priorities import tier_priority
from agent.services.recognition import RecognitionService
from agent.services.staff import StaffService
from agent.services.suggestions import SuggestionService, holdout_key
from agent.store.appointments import AppointmentRepository
from agent.store.customers import CustomerRepository
from agent.store.database import Database
from agent.store.footfall import FootfallRepository
from agent.store.outbox import Outbox
from agent.store.privacy import CustomerForgetting
from agent.store.push import PushSubscriptions
from agent.store.runner import StoreRunner
from agent.store.secrets import window_secret
from agent.store.staff import StaffRepository
from agent.store.suggestions import SuggestionRepository
from agent.store.tickets import TicketRepository
from agent.store.unit_of_work import UnitOfWork
from agent.store.visits import VisitRepository
from agent.sync.topics import Topics


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
        _presence(rc),
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
        customer_repository,
        directory,
        clock,
        metrics,
        hub,
        alert_retention_h=rc.alert_retention_h,
        shown_suggestions=suggestions.shown_now,
    )
    hub.provide_snapshot(STAFF_TOPIC, alerts.snapshot)
    topics = Topics(config.mqtt.topic_prefix if config.mqtt else "retail/v1", config.store.id)
    link, resend = sync_link(config, topics, uow, outbox, bus, clock, metrics, rng)
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
    secret, generations = runner.call(window_secrets, database, config)
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
        tier_priority=tier_priority(config.priorities, recognition.directory.tier),
        appointments=appointments,
    )
    push = push_service(config, uow, runner, database, subscriptions, queues, clock, metrics, rng)
    wiring = RecognitionWiring(clock, metrics, recognition, rc.scanner_watchdog_s)
    sources = [
        spec
        for device in config.devices
        if (spec := device_source(device, wiring, footfall.count)) is not None
    ]
    bus.bind(*service_handlers(customers, recognition, alerts, queues, push, resend, suggestions))
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
        staff=StaffService(uow, StaffRepository(database), clock),
        footfall=footfall,
        recognition=recognition,
        alerts=alerts,
        push=push,
        suggestions=suggestions,
        health=HealthMonitor(uow, outbox, link, clock, metrics),
        sources=sources,
        printing=ticket_printing(config, queues, hub, clock, metrics),
        reports=report_service(config, uow, database, clock),
        extras=wiring.simulators,
        home_assistant=home_assistant(config, topics, link, queues, hub, clock),
    )


def _presence(rc: RecognitionConfig) -> Presence:
    """Door and visit timing from `[recognition]`."""
    return Presence(
        PresenceSettings(
            door_rssi_dbm=rc.door_rssi_dbm,
            arrive_after_s=rc.arrive_after_s,
            leave_after_s=rc.leave_after_s,
            untracked_visit_s=rc.untracked_visit_s,
            alert_cooldown_s=rc.alert_cooldown_s,
        )
    )
