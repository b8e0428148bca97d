"""Configuration: TOML in, frozen typed objects out, every problem named by file and key."""

from agent.config.loader import load_config, parse_config
from agent.config.model import (
    AgentConfig,
    DeviceConfig,
    HttpConfig,
    MqttConfig,
    OccupancyConfig,
    QueueConfig,
    RecognitionConfig,
    StorageConfig,
    StoreConfig,
)

__all__ = [
    "AgentConfig",
    "DeviceConfig",
    "HttpConfig",
    "MqttConfig",
    "OccupancyConfig",
    "QueueConfig",
    "RecognitionConfig",
    "StorageConfig",
    "StoreConfig",
    "load_config",
    "parse_config",
]
