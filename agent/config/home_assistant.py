"""`[home_assistant]`: opt-in Home Assistant MQTT discovery, parsed like every other table."""

from __future__ import annotations

from agent.config.model import HomeAssistantConfig
from agent.config.reader import Table

# A topic level or levels without wildcards; Home Assistant's default is `homeassistant`.
PREFIX_PATTERN = r"[^#+\s/]+(/[^#+\s/]+)*"


def parse_home_assistant(root: Table, *, has_mqtt: bool) -> HomeAssistantConfig:
    t = root.table("home_assistant")
    defaults = HomeAssistantConfig()
    if t is None:
        return defaults
    config = HomeAssistantConfig(
        discovery=t.boolean("discovery", defaults.discovery),
        discovery_prefix=t.string(
            "discovery_prefix", defaults.discovery_prefix, pattern=PREFIX_PATTERN
        ),
    )
    if config.discovery and not has_mqtt:
        t.bad("discovery", "needs an [mqtt] table: discovery is published on that broker")
    t.finish()
    return config
