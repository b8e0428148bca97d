"""`{p}/stores/{store}/appointments/{day}` (extension, issue 14): the central service's
retained list of the store's appointments for one day, turned into one `ApplyAppointmentDay`
command for the bus, or a counted drop.

Like every inbound topic (agent.sync.inbound), anything that raises while parsing or applying
is logged, counted (`retail_edge_malformed_inputs_dropped_total{source="mqtt.appointments"}`)
and dropped; it never reaches the link (contract 8.3).
"""

from __future__ import annotations

import logging

from agent.core.appointments import ApplyAppointmentDay, parse_appointment_day
from agent.core.customers import MalformedMessage
from agent.metrics import Metrics
from agent.sync.inbound import CommandSink
from agent.sync.link import InboundRoute
from agent.sync.topics import Topics

_LOGGER = logging.getLogger(__name__)
SOURCE = "mqtt.appointments"


def appointments_filter(topics: Topics) -> str:
    return f"{topics.prefix}/stores/{topics.store}/appointments/+"


def appointments_topic(topics: Topics, day: str) -> str:
    return f"{topics.prefix}/stores/{topics.store}/appointments/{day}"


class AppointmentsInbound:
    def __init__(self, topics: Topics, handle: CommandSink, metrics: Metrics) -> None:
        self._topics = topics
        self._handle = handle
        self._metrics = metrics
        self._head = appointments_topic(topics, "")

    def route(self) -> InboundRoute:
        return InboundRoute(appointments_filter(self._topics), self.day_list)

    async def day_list(self, topic: str, payload: bytes) -> None:
        if not topic.startswith(self._head) or not payload:
            return  # an empty retained message clears a day's topic: nothing to apply
        day = topic[len(self._head) :]
        try:
            command = ApplyAppointmentDay(parse_appointment_day(payload, day))
        except MalformedMessage as exc:
            _LOGGER.warning("dropped malformed appointments message: %s", exc)
            self._metrics.malformed_dropped.labels(source=SOURCE).inc()
            return
        except Exception:  # a parser bug must not become a dropped connection either
            _LOGGER.exception("dropped an appointments message the parser failed on")
            self._metrics.malformed_dropped.labels(source=SOURCE).inc()
            return
        try:
            await self._handle(command)
        except Exception:
            _LOGGER.exception("dropped an appointments message that could not be applied")
            self._metrics.malformed_dropped.labels(source=SOURCE).inc()
