"""What one agent instance is made of: built by `agent.bootstrap.build`, run by the daemon."""

from __future__ import annotations

from dataclasses import dataclass, field

from agent.config.model import AgentConfig
from agent.core.ports import Clock
from agent.devices import SourceSpec
from agent.metrics import Metrics
from agent.services.alerts import AlertBoard
from agent.services.customers import CustomerService
from agent.services.footfall import FootfallService
from agent.services.health import HealthMonitor
from agent.services.home_assistant import HomeAssistantBridge
from agent.services.hub import Hub
from agent.services.messagebus import MessageBus
from agent.services.printing import TicketPrinting
from agent.services.push import PushService
from agent.services.queue import QueueService
from agent.services.recognition import RecognitionService
from agent.services.reports import ReportService
from agent.services.staff import StaffService
from agent.services.suggestions import SuggestionService
from agent.store.database import Database
from agent.store.outbox import Outbox
from agent.store.runner import StoreRunner
from agent.store.unit_of_work import UnitOfWork
from agent.sync.link import MqttLink
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
