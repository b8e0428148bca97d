"""Home Assistant MQTT discovery (opt-in, `[home_assistant] discovery = true`).

Home Assistant builds entities from retained JSON configs on
`<discovery_prefix>/<component>/<node_id>/<object_id>/config`. The agent describes, as sensors
of one device (the store):

- occupancy, busy level and capacity, read from the contract's retained occupancy message
  (§4) that the agent publishes anyway, so nothing new is sent for them;
- per queue, the people waiting and the wait estimate for a newcomer, read from a retained
  state topic of that queue, `{p}/stores/{store}/queues/{queue}/state` (an extension), which
  this bridge keeps current: at start, after each change of the queue, and every minute (the
  estimate and opening hours move with time).

Availability comes from the agent's status topic (retained, also the Last Will), whose JSON
`state` is `online` or `offline`. The configs and states are retained messages of the MQTT
link (published again on every connect), so a Home Assistant that starts later still finds
them. Templates are plain `{{ value_json.<key> }}` reads: nothing for Home Assistant to
compute, nothing that can fail to render.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

from agent.config.model import AgentConfig
from agent.core.clock import rfc3339
from agent.core.ports import Clock
from agent.services.hub import Hub, Subscription, queue_topic
from agent.services.queue.views import QueueSummary

_LOGGER = logging.getLogger(__name__)
RetainedPublisher = Callable[[str, bytes], None]
REFRESH_S = 60.0
ORIGIN = "retail-edge"
_NOT_AN_ID_CHARACTER = re.compile(r"[^a-zA-Z0-9_-]")  # what discovery topic levels allow


@dataclass(frozen=True, slots=True)
class DiscoveryTopics:
    status: str  # the agent's status topic: availability
    occupancy: str  # the contract's retained occupancy message
    queue_state: Callable[[str], str]  # a queue's retained state topic


def discovery_id(text: str) -> str:
    return _NOT_AN_ID_CHARACTER.sub("_", text)


def queue_state(summary: QueueSummary, ts: str) -> dict[str, object]:
    """The retained state of one queue: what its sensors read."""
    return {
        "queue": summary.queue,
        "label": summary.label,
        "waiting": summary.waiting,
        # The middle of the range a newcomer is shown; the range itself is kept beside it.
        "wait_s": (summary.eta.low_s + summary.eta.high_s) // 2,
        "wait_low_s": summary.eta.low_s,
        "wait_high_s": summary.eta.high_s,
        "open": summary.open,
        "full": summary.full,
        "ts": ts,
    }


def discovery_configs(
    config: AgentConfig, topics: DiscoveryTopics, version: str
) -> dict[str, dict[str, object]]:
    """Discovery topic -> config payload, for every entity the store offers."""
    store = config.store
    node = discovery_id(f"retail-edge-{store.id}")
    device = {
        "identifiers": [node],
        "name": store.name,
        "manufacturer": "retail-edge",
        "model": "retail-edge store agent",
        "sw_version": version,
        "configuration_url": config.http.public_url,
    }
    common: dict[str, object] = {
        "device": device,
        "origin": {"name": ORIGIN, "sw_version": version},
        "availability": [
            {
                "topic": topics.status,
                "value_template": "{{ value_json.state }}",
                "payload_available": "online",
                "payload_not_available": "offline",
            }
        ],
    }
    entities: dict[str, dict[str, object]] = {
        "occupancy": {
            "name": "Occupancy",
            "state_topic": topics.occupancy,
            "value_template": "{{ value_json.occupancy }}",
            "unit_of_measurement": "people",
            "state_class": "measurement",
            "icon": "mdi:account-group",
        },
        "busy_level": {
            "name": "Busy level",
            "state_topic": topics.occupancy,
            "value_template": "{{ value_json.level }}",
            "device_class": "enum",
            "options": ["quiet", "busy", "full"],
            "icon": "mdi:store-clock",
        },
        "capacity": {
            "name": "Capacity",
            "state_topic": topics.occupancy,
            # null (no capacity set) renders as "None", which Home Assistant shows as unknown.
            "value_template": "{{ value_json.capacity }}",
            "unit_of_measurement": "people",
            "icon": "mdi:account-multiple-check",
        },
    }
    for queue in config.queues:
        state = topics.queue_state(queue.id)
        key = discovery_id(queue.id)
        entities[f"queue_{key}_waiting"] = {
            "name": f"{queue.label} waiting",
            "state_topic": state,
            "value_template": "{{ value_json.waiting }}",
            "unit_of_measurement": "people",
            "state_class": "measurement",
            "icon": "mdi:human-queue",
            "json_attributes_topic": state,
        }
        entities[f"queue_{key}_wait"] = {
            "name": f"{queue.label} wait estimate",
            "state_topic": state,
            "value_template": "{{ value_json.wait_s }}",
            "device_class": "duration",
            "unit_of_measurement": "s",
            "state_class": "measurement",
            "json_attributes_topic": state,
        }
    prefix = config.home_assistant.discovery_prefix
    return {
        f"{prefix}/sensor/{node}/{object_id}/config": {
            **entity,
            "unique_id": f"{node}_{object_id}",
            **common,
        }
        for object_id, entity in entities.items()
    }


class HomeAssistantBridge:
    def __init__(
        self,
        config: AgentConfig,
        topics: DiscoveryTopics,
        summary: Callable[[str], QueueSummary],
        hub: Hub,
        clock: Clock,
        publish_retained: RetainedPublisher,
        *,
        version: str,
    ) -> None:
        self._config = config
        self._topics = topics
        self._summary = summary
        self._hub = hub
        self._clock = clock
        self._publish = publish_retained
        self._version = version
        self._queues = [queue.id for queue in config.queues]

    async def run(self, stop: asyncio.Event) -> None:
        """Publish the configs, then keep the queue states current until ``stop`` is set (or
        the task is cancelled, as the daemon does on shutdown)."""
        for topic, payload in discovery_configs(self._config, self._topics, self._version).items():
            self._publish(topic, json.dumps(payload).encode("utf-8"))
        while not stop.is_set():
            # Subscribed before the states are read: a change made meanwhile is sent twice,
            # never lost. A subscription the hub dropped (it lagged) starts again here.
            with self._hub.subscribe(*(queue_topic(q) for q in self._queues)) as changes:
                for queue in self._queues:
                    self.publish_state(queue)
                while not stop.is_set() and not changes.lagged:
                    message = await changes.next(REFRESH_S)
                    if message is None:  # a quiet minute: the estimates may still have moved
                        changed = set(self._queues)
                    else:
                        changed = {_queue_of(message.topic)} | _pending(changes)
                    for queue in sorted(changed):
                        self.publish_state(queue)

    def publish_state(self, queue: str) -> None:
        try:
            state = queue_state(self._summary(queue), rfc3339(self._clock.now()))
        except Exception:
            # A bug in a view must cost this one state, not the bridge (the next change or
            # the minute's refresh tries again).
            _LOGGER.exception("cannot build the Home Assistant state of queue %s", queue)
            return
        self._publish(self._topics.queue_state(queue), json.dumps(state).encode("utf-8"))


def _queue_of(topic: str) -> str:
    return topic.removeprefix(queue_topic(""))


def _pending(changes: Subscription) -> set[str]:
    """The queues of the changes already waiting: a burst of joins is one state each."""
    queues: set[str] = set()
    while not changes.queue.empty():
        message = changes.queue.get_nowait()
        if message is not None:
            queues.add(_queue_of(message.topic))
    return queues
