"""After a queue changed: the gauges are refreshed, ticket pages are told to re-read their
ticket, and watching tablets get the queue's new staff view."""

from __future__ import annotations

from agent.metrics import Metrics
from agent.services.hub import STAFF_TOPIC, Hub, queue_topic
from agent.services.queue.state import QueueRegistry, QueueState
from agent.services.queue.views import QueueViews


class Announcer:
    def __init__(
        self, registry: QueueRegistry, views: QueueViews, hub: Hub, metrics: Metrics
    ) -> None:
        self._registry = registry
        self._views = views
        self._hub = hub
        self._metrics = metrics

    def changed(self, q: QueueState) -> None:
        self.refresh_metrics()
        self._hub.publish(queue_topic(q.config.id), "changed", None)
        if self._hub.has_subscribers(STAFF_TOPIC):  # the full view is built only if watched
            self._hub.publish(STAFF_TOPIC, "queue", self._views.queue_view(q.config.id))

    def refresh_metrics(self) -> None:
        for queue, q in self._registry.queues.items():
            self._metrics.queue_waiting.labels(queue=queue).set(q.book.waiting_count())
            mae = q.accuracy.mean_absolute_error_s()
            share = q.accuracy.underestimate_share()
            if mae is not None and share is not None:
                self._metrics.wait_abs_error.labels(queue=queue).set(mae)
                self._metrics.wait_underestimates.labels(queue=queue).set(share)
