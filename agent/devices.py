"""Which device sources run, built from `[[devices]]`: real adapters or their simulators.

Part of the bootstrap: the one place that picks hardware or simulation. Each source is a
(factory, handler) pair that agent.services.sources supervises (restarts, watchdog).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from agent.config.model import DeviceConfig
from agent.core.ports import Clock, ReadingSource
from agent.metrics import Metrics
from agent.services.recognition import RecognitionService


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


@dataclass
class RecognitionWiring:
    """What every recognition source needs; simulated devices are also kept in
    ``simulators`` so the demo and the tests can drive them through their real entry point."""

    clock: Clock
    metrics: Metrics
    recognition: RecognitionService
    watchdog_s: float
    simulators: dict[str, object] = field(default_factory=dict)


def recognition_source(device: DeviceConfig, wiring: RecognitionWiring) -> SourceSpec | None:
    """BLE, NFC and QR-camera sources; None for any other kind of device."""
    builders = {"ble": _ble_source, "nfc": _nfc_source, "qr-camera": _camera_source}
    build = builders.get(device.kind)
    return None if build is None else build(device, wiring)


def _ble_source(device: DeviceConfig, wiring: RecognitionWiring) -> SourceSpec:
    clock, sighting = wiring.clock, wiring.recognition.sighting
    on_dropped = dropped_counter(wiring.metrics)
    if device.adapter == "bleak":
        from agent.adapters.ble_bleak import BleakScannerSource

        return SourceSpec(
            "ble:bleak", lambda: BleakScannerSource(clock, on_dropped), sighting, wiring.watchdog_s
        )
    if device.adapter == "mqtt-proxy":
        from agent.adapters.ble_mqtt_proxy import MqttProxyScanner

        assert device.url and device.topic  # noqa: S101 - defaults filled by the loader
        url, topic = device.url, device.topic
        return SourceSpec(
            f"ble:mqtt-proxy:{topic}",
            lambda: MqttProxyScanner(url, topic, clock, on_dropped),
            sighting,
            wiring.watchdog_s,
        )
    from simulators.ble_phones import SimulatedPhones

    phones = SimulatedPhones(clock)
    wiring.simulators["ble"] = phones
    return SourceSpec("ble:simulated", lambda: phones, sighting)


def _nfc_source(device: DeviceConfig, wiring: RecognitionWiring) -> SourceSpec:
    clock, tap = wiring.clock, wiring.recognition.tap
    if device.adapter == "nfcpy":
        from agent.adapters.nfc_nfcpy import NfcpyReader

        path = device.path or "usb"
        on_dropped = dropped_counter(wiring.metrics)
        return SourceSpec(
            f"nfc:{path}", lambda: NfcpyReader(path, clock, on_dropped=on_dropped), tap
        )
    from simulators.nfc_reader import SimulatedNfcReader

    reader = SimulatedNfcReader(clock)
    wiring.simulators["nfc"] = reader
    return SourceSpec("nfc:simulated", lambda: reader, tap)


def _camera_source(device: DeviceConfig, wiring: RecognitionWiring) -> SourceSpec:
    from agent.adapters.qr_opencv import OpenCvFrames, QrCamera

    clock, scan = wiring.clock, wiring.recognition.scan
    if device.adapter == "opencv":
        source, decoder = device.source or "0", device.decoder or "zxing"
        return SourceSpec(
            f"qr:{source}",
            lambda: QrCamera(
                lambda: OpenCvFrames(source),
                clock,
                decoder=decoder,
                on_dropped=dropped_counter(wiring.metrics),
            ),
            scan,
        )
    from simulators.qr_camera import SimulatedCamera

    camera = SimulatedCamera()
    wiring.simulators["qr"] = camera
    return SourceSpec("qr:simulated", lambda: QrCamera(lambda: camera, clock, max_fps=5), scan)
