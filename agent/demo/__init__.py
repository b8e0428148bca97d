"""`retail-edge demo`: the whole system on one machine, with no hardware."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import signal
import tempfile
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from agent import tools
from agent.bootstrap import Components, build
from agent.config.loader import parse_config
from agent.config.model import AgentConfig
from agent.daemon import AgentDaemon
from simulators.central import CentralService
from simulators.customers import demo_customer, tombstone
from simulators.door_node import DoorNodeSimulator
from simulators.framework import Simulator, run_simulators
from simulators.mosquitto import MosquittoBroker, MosquittoUnavailable, free_port
from simulators.store_day import QueueDay

_LOGGER = logging.getLogger(__name__)
DEMO_CUSTOMERS = 12


@dataclass(frozen=True)
class DemoOptions:
    http_port: int = 8080
    mqtt_url: str | None = None
    data_dir: Path | None = None


def demo_config(data_dir: Path, http_port: int, mqtt_url: str | None) -> AgentConfig:
    template = resources.files("agent.demo").joinpath("defaults.toml").read_text("utf-8")
    text = (
        template.replace("{data_dir}", data_dir.as_posix())
        .replace("{http_port}", str(http_port))
        .replace("{public_url}", f"http://127.0.0.1:{http_port}")
        .replace("{mqtt_url}", mqtt_url or "mqtt://127.0.0.1")
    )
    data = tomllib.loads(text)
    if mqtt_url is None:
        data.pop("mqtt")
        data.pop("devices")  # the door node talks MQTT; without a broker there is none
    return parse_config(data, source=data_dir / "demo.toml")


async def run_demo(options: DemoOptions) -> None:
    data_dir = options.data_dir or Path(tempfile.mkdtemp(prefix="retail-edge-demo-"))
    broker: MosquittoBroker | None = None
    mqtt_url = options.mqtt_url
    if mqtt_url is None:
        try:
            broker = MosquittoBroker(persistence=False)
            broker.start()
            mqtt_url = broker.url
            print(f"Started a private mosquitto broker at {mqtt_url}")
        except MosquittoUnavailable as exc:
            print(f"No MQTT broker ({exc}): running with sync disabled.")
    try:
        await _run(data_dir, options.http_port, mqtt_url)
    finally:
        if broker is not None:
            broker.close()


async def _run(data_dir: Path, http_port: int, mqtt_url: str | None) -> None:
    # The port must be known before the config is made: public_url (in the QR codes) has it.
    config = demo_config(data_dir, http_port or free_port(), mqtt_url)
    components = build(config)
    daemon = AgentDaemon(components)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await daemon.start()
    base = config.http.public_url
    code = tools.pairing_code(config, "demo-tablet")
    print(f"Staff tablet:     {base}/staff   (pairing code {code}, valid 10 minutes)")
    print(f"Window screen:    {base}/window/advice   (rotating QR code)")
    print(f"Window QR (join): {base}/window/advice/qr.svg")
    print(f"Printed sticker:  {tools.join_url(config, 'pickup', _sticker(components))}")
    print(f"Health, metrics:  {base}/healthz  {base}/metrics")
    print(f"Data directory:   {data_dir}")
    print("Press Ctrl+C to stop.", flush=True)
    staff_token = await components.staff.pair(
        tools.pairing_code(config, "simulated-counter"), "simulated-counter", "demo"
    )
    day = QueueDay(
        base,
        lambda queue: _window_token(components, queue),
        staff_token,
        queues=("advice", "pickup"),
        served_queues=("pickup",),  # the advice queue is left to you, on the tablet
    )
    simulators: list[Simulator] = [day]
    central: CentralService | None = None
    if mqtt_url is not None and config.mqtt is not None:
        central = CentralService(mqtt_url, config.mqtt.topic_prefix)
        simulators.append(central)
        # A store day every 10 minutes: the store fills up at the lunch peak.
        simulators.append(DoorNodeSimulator(mqtt_url, "main", speed=60.0))
    sims = asyncio.create_task(run_simulators(simulators, stop))
    records = asyncio.create_task(_customer_records(central, stop))
    try:
        await stop.wait()
    finally:
        print("Stopping...", flush=True)
        for task in (records, sims):
            task.cancel()
        await asyncio.gather(records, sims, return_exceptions=True)
        await daemon.stop()


def _window_token(components: Components, queue: str) -> str:
    """What a phone reads off the window: the current code of that queue."""
    queues = components.queues
    if queues.queue_config(queue).printed_sticker:
        return _sticker(components, queue)
    return queues.tokens.rotating(queue, components.clock.now().timestamp())


def _sticker(components: Components, queue: str = "pickup") -> str:
    return components.queues.static_token(queue)


async def _customer_records(central: CentralService | None, stop: asyncio.Event) -> None:
    """The central side's share of a store day: records arrive, consent changes now and then."""
    if central is None:
        return
    rng = random.Random(7)
    await central.ready.wait()
    for index in range(DEMO_CUSTOMERS):
        central.publish_customer(demo_customer(rng, index))
    version = 1
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=30)
        version += 1
        index = rng.randrange(DEMO_CUSTOMERS)
        customer_id = f"c-{index:05d}"
        if rng.random() < 0.2:
            central.publish_customer(tombstone(customer_id, "erase", version))
        else:
            central.publish_customer(demo_customer(rng, index, version=version))
