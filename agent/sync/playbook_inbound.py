"""The central playbook (extension, docs/suggestions.md): `{p}/chain/playbook`, retained.

Its bytes become one `ApplyPlaybook` command, or a counted drop exactly like the other inbound
topics (`retail_edge_malformed_inputs_dropped_total{source="mqtt.playbook"}`): a document the
config's `[playbook]` reader would refuse is refused whole, the agent keeps the playbook it
has, and the connection stays up (contract 8.3). An empty retained message clears the
override (the agent goes back to its config's playbook).
"""

from __future__ import annotations

import logging

from agent.config.playbook import playbook_problems
from agent.core.customers import INT64_MAX, MalformedMessage, json_object
from agent.core.playbook import ApplyPlaybook
from agent.metrics import Metrics
from agent.sync.inbound import CommandSink
from agent.sync.link import InboundRoute
from agent.sync.topics import Topics

_LOGGER = logging.getLogger(__name__)
MAX_PLAYBOOK_BYTES = 64 * 1024


def playbook_topic(topics: Topics) -> str:
    return f"{topics.prefix}/chain/playbook"


def parse_playbook_message(payload: bytes) -> ApplyPlaybook:
    """`{"version": N, "enabled": ..., "max_shown": ..., "rules": [...]}` (the `[playbook]`
    section's keys, as JSON), or an empty payload; MalformedMessage otherwise."""
    if not payload:
        return ApplyPlaybook(None)
    document = json_object(payload, MAX_PLAYBOOK_BYTES, "playbook")
    version = document.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or not 0 <= version <= INT64_MAX:
        raise MalformedMessage("version must be a non-negative 64-bit integer")
    playbook, problems = playbook_problems(document, version)
    if problems:
        raise MalformedMessage("; ".join(problems[:5]))
    return ApplyPlaybook(playbook, payload.decode())


class PlaybookInbound:
    def __init__(self, topics: Topics, handle: CommandSink, metrics: Metrics) -> None:
        self._topic = playbook_topic(topics)
        self._handle = handle
        self._metrics = metrics

    def route(self) -> InboundRoute:
        return InboundRoute(self._topic, self.received)

    async def received(self, _topic: str, payload: bytes) -> None:
        try:
            command = parse_playbook_message(payload)
        except MalformedMessage as exc:
            _LOGGER.warning("dropped malformed playbook message: %s", exc)
            self._dropped()
            return
        except Exception:  # a reader bug must not become a dropped connection
            _LOGGER.exception("dropped a playbook message the parser failed on")
            self._dropped()
            return
        try:
            await self._handle(command)
        except Exception:
            _LOGGER.exception("dropped a playbook message that could not be applied")
            self._dropped()

    def _dropped(self) -> None:
        self._metrics.malformed_dropped.labels(source="mqtt.playbook").inc()
