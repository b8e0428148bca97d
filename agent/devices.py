"""Which device sources run, built from `[[devices]]`: real adapters or their simulators.

Part of the bootstrap: the one place that picks hardware or simulation. Each source is a
(factory, handler) pair that agent.services.sources supervises (restarts, watchdog).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from agent.config.model import DeviceConfig
from agent.core.ports import Clock, ReadingSource
from agent.metrics import Metrics


@dataclass(frozen=True)
class SourceSpec:
    name: str
    factory: Callable[[], ReadingSource[Any]]
    handle: Callable[[Any], Awaitable[None]]
    watchdog_s: float | None = None


def dropped_counter(metrics: Metrics) -> Callable[[str], None]:
    def count(kind: str) -> None:
        metrics.malformed_dropped.labels(source=kind).inc()

    return count


def footfall_source(
    device: DeviceConfig,
    clock: Clock,
    metrics: Metrics,
    handle: Callable[[Any], Awaitable[None]],
) -> SourceSpec | None:
    if device.adapter == "mqtt":
        from agent.adapters.footfall_mqtt import MqttDoorCounter

        assert device.url and device.door and device.in_topic and device.out_topic  # noqa: S101
        url, door, in_topic, out_topic = device.url, device.door, device.in_topic, device.out_topic
        return SourceSpec(
            f"footfall-mqtt:{door}",
            lambda: MqttDoorCounter(
                url, door, in_topic, out_topic, clock, dropped_counter(metrics)
            ),
            handle,
        )
    if device.adapter == "gpio":
        from agent.adapters.footfall_gpio import GpioBeamPair

        assert device.door and device.outer_pin and device.inner_pin  # noqa: S101
        door, outer, inner = device.door, device.outer_pin, device.inner_pin
        return SourceSpec(
            f"footfall-gpio:{door}", lambda: GpioBeamPair(door, outer, inner, clock), handle
        )
    return None  # simulated doors are driven by the demo's store day
