"""What the HTTP routes need, passed in explicitly (no globals)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from agent.config.model import AgentConfig
from agent.core.ports import Clock
from agent.core.ratelimit import RateLimiter
from agent.metrics import Metrics
from agent.services.footfall import FootfallDay, OccupancyView
from agent.services.hub import Hub
from agent.services.printing import TicketPrinting
from agent.services.queue import QueueService
from agent.services.staff import StaffService
from agent.web.ticket_streams import TicketStreams


@dataclass
class WebContext:
    config: AgentConfig
    clock: Clock
    metrics: Metrics
    hub: Hub
    queues: QueueService
    staff: StaffService
    join_limit_client: RateLimiter  # accepted joins per client address (join_window_s)
    join_limit_token: RateLimiter  # accepted joins per window token (per minute)
    # Joins refused for a wrong or expired window token, per client address: a separate
    # budget, so a stale code does not use up the join quota, yet guessing stays bounded.
    wrong_token_limit: RateLimiter
    occupancy: Callable[[], OccupancyView] | None = None
    footfall_hours: Callable[[str | None], Awaitable[FootfallDay]] | None = None
    printing: TicketPrinting | None = None  # `[printer]`: walk-ins print a paper ticket
    # The ticket pages' streams, fanned out together (ticket_streams.py); made from the hub
    # and the queues when not given.
    ticket_streams: TicketStreams = field(init=False)

    def __post_init__(self) -> None:
        self.ticket_streams = TicketStreams(self.queues, self.hub)

    @property
    def secure_cookies(self) -> bool:
        """Cookies get `Secure` when the public URL is https, whatever the scheme of the
        request that reached the agent: behind a TLS-terminating proxy that is plain http."""
        return self.config.http.public_url.startswith("https://")

    def store_full(self) -> bool:
        """At capacity (contract §2): walk-ins are sent to the queue."""
        return self.occupancy is not None and self.occupancy().level == "full"

    @classmethod
    def create(
        cls,
        config: AgentConfig,
        clock: Clock,
        metrics: Metrics,
        hub: Hub,
        queues: QueueService,
        staff: StaffService,
        occupancy: Callable[[], OccupancyView] | None,
        footfall_hours: Callable[[str | None], Awaitable[FootfallDay]] | None = None,
        printing: TicketPrinting | None = None,
    ) -> WebContext:
        http = config.http
        return cls(
            config=config,
            clock=clock,
            metrics=metrics,
            hub=hub,
            queues=queues,
            staff=staff,
            join_limit_client=RateLimiter(http.joins_per_client, http.join_window_s),
            join_limit_token=RateLimiter(http.joins_per_token_per_minute, 60.0),
            wrong_token_limit=RateLimiter(http.wrong_tokens_per_client, http.join_window_s),
            occupancy=occupancy,
            footfall_hours=footfall_hours,
            printing=printing,
        )
