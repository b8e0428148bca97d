"""The one place that builds the agent: picks adapters or simulators and wires everything.

Nothing else constructs collaborators; everything is passed in explicitly, so a test builds
the same graph with a fake clock or a simulator in place of a radio.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from agent import __version__
from agent.config.model import AgentConfig
from agent.core.address_cache import AddressCache
from agent.core.clock import SystemClock
from agent.core.customers import CustomerMessage, MalformedMessage, Tombstone, parse_checkin
from agent.core.ports import Clock
from agent.core.presence import Presence, PresenceSettings
from agent.core.readings import AppCheckin
from agent.core.ticket_codes import derive_key as derive_ticket_key
from agent.core.window_token import WindowTokens
from agent.devices import RecognitionWiring, SourceSpec, device_source
from agent.metrics import Metrics
from agent.services.customers import CustomerService
from agent.services.footfall import FootfallService
from agent.services.hub import Hub
from agent.services.queue import QueueService
from agent.services.recognition import RecognitionService
from agent.services.staff import StaffService
from agent.store.customers import CustomerRepository
from agent.store.database import Database
from agent.store.footfall import FootfallRepository
from agent.store.outbox import Outbox
from agent.store.runner import StoreRunner
from agent.store.secrets import static_generation, window_secret
from agent.store.staff import StaffRepository
from agent.store.tickets import TicketRepository
from agent.store.unit_of_work import UnitOfWork
from agent.store.visits import VisitRepository
from agent.sync.link import InboundHandler, InboundRoute, MqttLink
from agent.sync.publisher import OutboxPublisher
from agent.sync.resend import ResendHandler
from agent.sync.topics import Topics


@dataclass
class Components:
    """Everything one agent instance is made of, built and owned together."""

    config: AgentConfig
    clock: Clock
    metrics: Metrics
    runner: StoreRunner
    database: Database
    outbox: Outbox
    uow: UnitOfWork
    customers: CustomerService
    topics: Topics
    link: MqttLink | None
    hub: Hub
    queues: QueueService
    staff: StaffService
    footfall: FootfallService
    recognition: RecognitionService
    sources: list[SourceSpec]
    extras: dict[str, object] = field(default_factory=dict)


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
    uow = UnitOfWork(runner, database, outbox)
    visits = VisitRepository(database)
    customer_repository = CustomerRepository(database)
    customers = CustomerService(uow, customer_repository, visits, clock, metrics)
    hub = Hub()
    rc = config.recognition
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
        hub,
        pass_public_key=rc.pass_public_key,
    )
    customers.subscribe(recognition.customer_changed)
    topics = Topics(config.mqtt.topic_prefix if config.mqtt else "retail/v1", config.store.id)
    link = None
    if config.mqtt is not None:
        publisher = OutboxPublisher(
            uow,
            outbox,
            metrics,
            topic=topics.events,
            window=config.mqtt.inflight_window,
            batch_max_events=config.mqtt.batch_max_events,
        )
        routes = [
            InboundRoute(topics.customers_filter, _customer_route(topics, customers)),
            InboundRoute(topics.checkins, _checkin_route(recognition, clock, metrics)),
            InboundRoute(topics.resend, ResendHandler(uow, outbox, publisher, metrics).handle),
        ]
        link = MqttLink(
            config.mqtt,
            topics,
            publisher,
            routes,
            metrics=metrics,
            clock=clock,
            version=__version__,
            rng=rng,
        )
    secret, generations = runner.call(_window_secrets, database, config)
    tickets = TicketRepository(database)
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
    )
    recognition.link_queue(queues.check_in_code, queues.check_in_customer)
    customers.subscribe(_unlink_tickets(queues, uow, tickets))
    staff = StaffService(uow, runner, StaffRepository(database), clock)
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
    wiring = RecognitionWiring(clock, metrics, recognition, rc.scanner_watchdog_s)
    sources = [
        spec
        for device in config.devices
        if (spec := device_source(device, wiring, footfall.count)) is not None
    ]
    return Components(
        config=config,
        clock=clock,
        metrics=metrics,
        runner=runner,
        database=database,
        outbox=outbox,
        uow=uow,
        customers=customers,
        topics=topics,
        link=link,
        hub=hub,
        queues=queues,
        staff=staff,
        footfall=footfall,
        recognition=recognition,
        sources=sources,
        extras=wiring.simulators,
    )


def _window_secrets(database: Database, config: AgentConfig) -> tuple[bytes, dict[str, int]]:
    """The device's window-token key (made on first start) and each queue's sticker
    generation (bumped to invalidate printed stickers)."""
    return window_secret(database), {q.id: static_generation(database, q.id) for q in config.queues}


def _unlink_tickets(
    queues: QueueService, uow: UnitOfWork, tickets: TicketRepository
) -> Callable[[CustomerMessage], None]:
    """Revoke, erase or consent withdrawn: tickets lose their link to the customer, in memory
    now and on disk in a transaction of their own (a bridge until the message bus does both
    in the customer's own transaction)."""
    background: set[asyncio.Task[int]] = set()

    def changed(message: CustomerMessage) -> None:
        if isinstance(message, Tombstone) or not message.consent_recognition:
            queues.unlink_customer(message.customer_id)
            forget = uow.commit(lambda: (tickets.forget_customer(message.customer_id), []))
            task = asyncio.get_running_loop().create_task(forget)
            background.add(task)
            task.add_done_callback(background.discard)

    return changed


def _checkin_route(
    recognition: RecognitionService, clock: Clock, metrics: Metrics
) -> InboundHandler:
    async def handle(_topic: str, payload: bytes) -> None:
        try:
            checkin = parse_checkin(payload)
        except MalformedMessage:
            metrics.malformed_dropped.labels(source="mqtt.checkins").inc()
            return
        await recognition.checkin(
            AppCheckin(checkin.customer_id, checkin.at_unix, clock.monotonic())
        )

    return handle


def _customer_route(topics: Topics, customers: CustomerService) -> InboundHandler:
    async def handle(topic: str, payload: bytes) -> None:
        customer_id = topics.customer_id(topic)
        if customer_id is not None:
            await customers.handle(customer_id, payload)

    return handle
