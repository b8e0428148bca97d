"""Factories for the parts of the agent that a store switches on or off in its config: the MQTT
link to the central service, Web Push, the ticket printer, the manager's reports and Home
Assistant discovery. `agent.bootstrap.wiring.build` calls each once; none is built anywhere else.
"""

from __future__ import annotations

import random

from agent import __version__
from agent.adapters.webpush import WebPushSender
from agent.config.model import AgentConfig
from agent.core.ports import Clock
from agent.core.push import EndpointPolicy
from agent.devices import ticket_printer
from agent.metrics import Metrics
from agent.services.home_assistant import DiscoveryTopics, HomeAssistantBridge
from agent.services.hub import Hub
from agent.services.messagebus import MessageBus
from agent.services.printing import TicketPrinting
from agent.services.push import PushService
from agent.services.queue import QueueService
from agent.services.reports import ReportService
from agent.store.database import Database
from agent.store.outbox import Outbox
from agent.store.push import PushSubscriptions
from agent.store.reports import ReportQueries
from agent.store.runner import StoreRunner
from agent.store.secrets import static_generation, vapid_private_key, window_secret
from agent.store.unit_of_work import UnitOfWork
from agent.sync.appointments_inbound import AppointmentsInbound
from agent.sync.inbound import InboundAdapter
from agent.sync.link import MqttLink
from agent.sync.playbook_inbound import PlaybookInbound
from agent.sync.publisher import OutboxPublisher
from agent.sync.resend import ResendHandler
from agent.sync.topics import Topics
from agent.web.printer_api import print_wording
from agent.web.push_api import push_wording


def sync_link(
    config: AgentConfig,
    topics: Topics,
    uow: UnitOfWork,
    outbox: Outbox,
    bus: MessageBus,
    clock: Clock,
    metrics: Metrics,
    rng: random.Random,
) -> tuple[MqttLink | None, ResendHandler | None]:
    """The MQTT link (events up from the outbox, records and requests down as bus commands)
    and the resend handler it feeds; both None for a store with no `[mqtt]` section."""
    if config.mqtt is None:
        return None, None
    publisher = OutboxPublisher(
        uow,
        outbox,
        metrics,
        topic=topics.events,
        window=config.mqtt.inflight_window,
        batch_max_events=config.mqtt.batch_max_events,
    )
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
    return link, ResendHandler(uow, outbox, publisher, metrics)


def push_service(
    config: AgentConfig,
    uow: UnitOfWork,
    runner: StoreRunner,
    database: Database,
    subscriptions: PushSubscriptions,
    queues: QueueService,
    clock: Clock,
    metrics: Metrics,
    rng: random.Random,
) -> PushService:
    """Web Push to customers' phones (contract 8.6), signed with the device's VAPID key."""
    pc = config.push
    return PushService(
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
        lambda queue: queue_label(queues, queue),
        clock,
        metrics,
        pc,
        config.http.public_url,
        rng=rng,
    )


def ticket_printing(
    config: AgentConfig, queues: QueueService, hub: Hub, clock: Clock, metrics: Metrics
) -> TicketPrinting:
    """Walk-in tickets on the `[printer]` (a simulator or no printer when none is set)."""
    return TicketPrinting(
        ticket_printer(config.printer),
        hub=hub,
        metrics=metrics,
        clock=clock,
        timezone=config.store.timezone,
        store_name=config.store.name,
        public_url=config.http.public_url,
        queue_label=lambda queue: queue_label(queues, queue),
        wording=print_wording,
        print_walk_ins=config.printer.print_walk_ins if config.printer else False,
    )


def report_service(
    config: AgentConfig, uow: UnitOfWork, database: Database, clock: Clock
) -> ReportService:
    """The manager's day and week reports, over the tickets the store still keeps."""
    return ReportService(
        uow,
        ReportQueries(database),
        clock,
        timezone=config.store.timezone,
        max_days=config.storage.ticket_retention_days,
    )


def home_assistant(
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


def window_secrets(database: Database, config: AgentConfig) -> tuple[bytes, dict[str, int]]:
    """The device's window-token key (made on first start) and each queue's sticker
    generation (bumped to invalidate printed stickers)."""
    return window_secret(database), {q.id: static_generation(database, q.id) for q in config.queues}


def queue_label(queues: QueueService, queue: str) -> str:
    """A queue's label for a customer or a printed ticket; the id of a queue no longer
    configured (a ticket taken before a config change)."""
    return queues.queue_config(queue).label if queue in queues.queue_ids() else queue
