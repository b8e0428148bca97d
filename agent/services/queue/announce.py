"""After a queue changed: the gauges are refreshed, ticket pages are told to re-read their
ticket, and watching tablets are told the queue changed.

Tablets are sent a marker (`QueueChanged`), not the view: each staff stream builds the view
when it sends, through `latest`, which builds it once per change for every tablet. So a
staff action answers without building a view of the whole line (with 1,000 waiting that
was most of a call's time, benchmarks/call_latency.py), and a stream that is behind sends
the latest view once instead of every one in between."""

from __future__ import annotations

from agent.core.estimate import WaitRange
from agent.core.ports import Clock
from agent.core.queue import Ticket, TicketState
from agent.metrics import Metrics
from agent.services.hub import STAFF_TOPIC, Hub, queue_topic
from agent.services.queue.state import QueueRegistry, QueueState
from agent.services.queue.views import QueueChanged, QueueViews, StaffQueue

FRESH_S = 1.0  # a staff view older than this is built again when asked for
# Waits worked out for a change serve the streams woken by it for this long: the span of one
# fan-out, after which a stream works them out again (they move with the clock alone).
SHARED_WAITS_S = 0.25


class Announcer:
    def __init__(
        self, registry: QueueRegistry, views: QueueViews, hub: Hub, metrics: Metrics, clock: Clock
    ) -> None:
        self._clock = clock
        self._registry = registry
        self._views = views
        self._hub = hub
        self._metrics = metrics
        self._versions: dict[str, int] = {}  # queue -> changes so far
        # queue -> (change count, monotonic time built, view)
        self._built: dict[str, tuple[int, float, StaffQueue]] = {}
        # queue -> (change count, monotonic time started, waits of the first in line so far)
        self._waits: dict[str, tuple[int, float, list[WaitRange]]] = {}

    def changed(self, q: QueueState) -> None:
        self.refresh_metrics()
        queue = q.config.id
        self._hub.publish(queue_topic(queue), "changed", None)
        version = self._versions[queue] = self._versions.get(queue, 0) + 1
        if self._hub.has_subscribers(STAFF_TOPIC):
            self._hub.publish(STAFF_TOPIC, "queue", QueueChanged(queue, version))

    def latest(self, queue: str) -> tuple[int, StaffQueue]:
        """The queue's staff view as it is now, with its change count: built once per change
        however many tablets ask, and again once it is over a second old (a view shows
        waited times and late flags, which move with the clock alone)."""
        version, now = self._versions.get(queue, 0), self._clock.monotonic()
        built = self._built.get(queue)
        if built is None or built[0] != version or now - built[1] > FRESH_S:
            view = self._views.queue_view(queue, self.waits)
            built = self._built[queue] = (version, now, view)
        return built[0], built[2]

    def place(self, ticket: Ticket) -> tuple[int, WaitRange] | None:
        """A waiting ticket's position and wait, the wait taken from those worked out once for
        the queue's latest change: 500 phones woken by a call each worked out their own, ~7 %
        of the fan-out's samples (issue 17). None: not waiting (the views work that out)."""
        q = self._registry.queues.get(ticket.queue)
        if q is None or ticket.state != TicketState.WAITING:
            return None
        position = q.book.position(ticket.id)
        if position is None:
            return None
        return position, self._shared_waits(q, position)[position - 1]

    def waits(self, q: QueueState, count: int) -> list[WaitRange]:
        """The waits of the first ``count`` in line (`QueueRegistry.estimates`), shared."""
        return self._shared_waits(q, count)[:count]

    def _shared_waits(self, q: QueueState, count: int) -> list[WaitRange]:
        """At least ``count`` waits, shared by the streams of one change: extended as later
        places are asked for, worked out again after the next change or SHARED_WAITS_S."""
        queue, now = q.config.id, self._clock.monotonic()
        version = self._versions.get(queue, 0)
        shared = self._waits.get(queue)
        if shared is None or shared[0] != version or now - shared[1] > SHARED_WAITS_S:
            shared = self._waits[queue] = (version, now, [])
        waits = shared[2]
        if len(waits) < count:
            waits += self._registry.estimates(q, count, start=len(waits))
        return waits

    def refresh_metrics(self) -> None:
        for queue, q in self._registry.queues.items():
            self._metrics.queue_waiting.labels(queue=queue).set(q.book.waiting_count())
            mae = q.accuracy.mean_absolute_error_s()
            share = q.accuracy.underestimate_share()
            if mae is not None and share is not None:
                self._metrics.wait_abs_error.labels(queue=queue).set(mae)
                self._metrics.wait_underestimates.labels(queue=queue).set(share)
