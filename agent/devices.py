"""Which device sources run, built from `[[devices]]`: real adapters or their simulators.

Part of the bootstrap: the one place that picks hardware or simulation. Each source is a
(factory, handler) pair that agent.services.sources supervises (restarts, watchdog). A
`[[devices]]` entry is one class per kind and adapter (agent.config.model), so the choice is
one `match`; adapters are imported only when a store has that hardware.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, assert_never

from agent.config.model import (
    BleBleakDevice,
    BleMqttProxyDevice,
    DeviceConfig,
    FootfallGpioDevice,
    FootfallMqttDevice,
    NfcDevice,
    QrCameraDevice,
    SimulatedBleDevice,
    SimulatedFootfallDevice,
    SimulatedNfcDevice,
    SimulatedQrCameraDevice,
)
from agent.config.printer import PrinterConfig
from agent.core.ports import Clock, ReadingSource, TicketPrinter
from agent.core.readings import FootfallCount
from agent.metrics import Metrics
from agent.services.recognition import RecognitionService


@dataclass(frozen=True)
class SourceSpec:
    name: str
    factory: Callable[[], ReadingSource[Any]]
    handle: Callable[[Any], Awaitable[None]]
    watchdog_s: float | None = None
    # For a source that hands over batches: one call per batch instead of one per reading.
    handle_batch: Callable[[Sequence[Any]], Awaitable[None]] | None = None


def dropped_counter(metrics: Metrics) -> Callable[[str], None]:
    def count(kind: str) -> None:
        metrics.malformed_dropped.labels(source=kind).inc()

    return count


def ble_advertisement_counter(metrics: Metrics, source: str) -> Callable[[str, int], None]:
    """Counts a scanner's advertisements by outcome (agent.adapters.ble_mqtt_proxy); the
    malformed and queue-full ones also under the malformed-inputs counter, as before."""
    children = {
        outcome: metrics.ble_advertisements.labels(source=source, outcome=outcome)
        for outcome in ("eid", "not_eddystone", "not_eid", "malformed", "queue_full")
    }
    dropped = {
        "malformed": metrics.malformed_dropped.labels(source="proxy_malformed"),
        "queue_full": metrics.malformed_dropped.labels(source="proxy_queue_full"),
    }

    def count(outcome: str, n: int) -> None:
        children[outcome].inc(n)
        if outcome in dropped:
            dropped[outcome].inc(n)

    return count


@dataclass
class RecognitionWiring:
    """What every device source needs; simulated devices are also kept in ``simulators`` so
    the demo and the tests can drive them through their real entry point."""

    clock: Clock
    metrics: Metrics
    recognition: RecognitionService
    watchdog_s: float
    simulators: dict[str, object] = field(default_factory=dict)


def device_source(
    device: DeviceConfig,
    wiring: RecognitionWiring,
    count_footfall: Callable[[FootfallCount], Awaitable[None]],
) -> SourceSpec | None:
    """The source for one `[[devices]]` entry; None for a simulated door."""
    clock, recognition = wiring.clock, wiring.recognition
    on_dropped = dropped_counter(wiring.metrics)
    spec: SourceSpec | None
    match device:
        case BleBleakDevice():
            from agent.adapters.ble_bleak import BleakScannerSource

            spec = SourceSpec(
                "ble:bleak",
                lambda: BleakScannerSource(clock, on_dropped),
                recognition.sighting,
                wiring.watchdog_s,
            )
        case BleMqttProxyDevice(url=url, topic=topic, credentials=credentials):
            from agent.adapters.ble_mqtt_proxy import MqttProxyScanner

            counter = ble_advertisement_counter(wiring.metrics, f"mqtt-proxy:{topic}")
            spec = SourceSpec(
                f"ble:mqtt-proxy:{topic}",
                lambda: MqttProxyScanner(url, topic, clock, counter, credentials=credentials),
                recognition.sighting,
                wiring.watchdog_s,
                recognition.sightings,
            )
        case SimulatedBleDevice():
            from simulators.ble_phones import SimulatedPhones

            phones = wiring.simulators["ble"] = SimulatedPhones(clock)
            spec = SourceSpec("ble:simulated", lambda: phones, recognition.sighting)
        case NfcDevice(path=path):
            from agent.adapters.nfc_nfcpy import NfcpyReader

            spec = SourceSpec(
                f"nfc:{path}",
                lambda: NfcpyReader(path, clock, on_dropped=on_dropped),
                recognition.tap,
            )
        case SimulatedNfcDevice():
            from simulators.nfc_reader import SimulatedNfcReader

            reader = wiring.simulators["nfc"] = SimulatedNfcReader(clock)
            spec = SourceSpec("nfc:simulated", lambda: reader, recognition.tap)
        case QrCameraDevice(source=source, decoder=decoder):
            from agent.adapters.qr_opencv import OpenCvFrames, QrCamera

            spec = SourceSpec(
                f"qr:{source}",
                lambda: QrCamera(
                    lambda: OpenCvFrames(source), clock, decoder=decoder, on_dropped=on_dropped
                ),
                recognition.scan,
            )
        case SimulatedQrCameraDevice():
            from agent.adapters.qr_opencv import QrCamera
            from simulators.qr_camera import SimulatedCamera

            camera = wiring.simulators["qr"] = SimulatedCamera()
            spec = SourceSpec(
                "qr:simulated", lambda: QrCamera(lambda: camera, clock, max_fps=5), recognition.scan
            )
        case FootfallMqttDevice(
            door=door, url=url, in_topic=in_topic, out_topic=out_topic, credentials=credentials
        ):
            from agent.adapters.footfall_mqtt import MqttDoorCounter

            spec = SourceSpec(
                f"footfall-mqtt:{door}",
                lambda: MqttDoorCounter(
                    url, door, in_topic, out_topic, clock, on_dropped, credentials
                ),
                count_footfall,
            )
        case FootfallGpioDevice(door=door, outer_pin=outer, inner_pin=inner):
            from agent.adapters.footfall_gpio import GpioBeamPair

            spec = SourceSpec(
                f"footfall-gpio:{door}",
                lambda: GpioBeamPair(door, outer, inner, clock),
                count_footfall,
            )
        case SimulatedFootfallDevice():
            spec = None  # the demo's store day counts through the footfall service
        case _:
            assert_never(device)
    return spec


def ticket_printer(config: PrinterConfig | None) -> TicketPrinter | None:
    """The `[printer]`'s adapter: ESC/POS on a TCP port or a USB printer device. A test's
    simulated printer is a TCP server, so it goes through the same network adapter."""
    if config is None:
        return None
    from agent.adapters.printer_escpos import NetworkEscPos, UsbEscPos

    if config.device is not None:
        return UsbEscPos(config.device, timeout_s=config.timeout_s, module_size=config.module_size)
    return NetworkEscPos(
        config.host, config.port, timeout_s=config.timeout_s, module_size=config.module_size
    )
