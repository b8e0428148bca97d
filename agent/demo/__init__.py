"""`retail-edge demo`: the whole system on one machine, with no hardware."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import logging
import random
import signal
import socket
import tempfile
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from agent import tools
from agent.bootstrap import Components, assemble, build
from agent.config.loader import parse_config
from agent.config.model import AgentConfig
from simulators.ble_phones import SimulatedPhones
from simulators.central import CentralService
from simulators.customers import demo_customer, demo_playbook, tombstone
from simulators.door_node import DoorNodeSimulator
from simulators.framework import Simulator, run_simulators
from simulators.mosquitto import MosquittoBroker, MosquittoUnavailable, free_port
from simulators.nfc_reader import SimulatedNfcReader
from simulators.printer import SimulatedPrinter
from simulators.qr_camera import SimulatedCamera
from simulators.recognition_day import RecognitionDay
from simulators.store_day import QueueDay

_LOGGER = logging.getLogger(__name__)
DEMO_CUSTOMERS = 12
# The demo chain's wallet-pass key (a made-up key for the demo only, derived from a constant).
DEMO_PASS_KEY = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"retail-edge demo").digest())
DEMO_PASS_PUBLIC_KEY = base64.b64encode(
    DEMO_PASS_KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
).decode()


@dataclass(frozen=True)
class DemoOptions:
    http_port: int = 8080
    mqtt_url: str | None = None
    data_dir: Path | None = None
    lan: bool = False  # listen on every interface; the QR codes then carry the LAN address


def demo_config(
    data_dir: Path,
    http_port: int,
    mqtt_url: str | None,
    printer_url: str | None = None,
    *,
    lan: bool = False,
    lan_address: str | None = None,
) -> AgentConfig:
    """With ``lan`` the agent listens on every interface and its public URL (in the QR codes)
    is ``lan_address``, so a phone that scans one reaches this machine."""
    template = resources.files("agent.demo").joinpath("defaults.toml").read_text("utf-8")
    host = (lan_address if lan else None) or "127.0.0.1"
    text = (
        template.replace("{data_dir}", data_dir.as_posix())
        .replace("{http_port}", str(http_port))
        .replace("{bind}", "0.0.0.0" if lan else "127.0.0.1")  # noqa: S104 - asked for
        .replace("{public_url}", f"http://{host}:{http_port}")
        .replace("{mqtt_url}", mqtt_url or "mqtt://127.0.0.1")
        .replace("{pass_public_key}", DEMO_PASS_PUBLIC_KEY)
    )
    data = tomllib.loads(text)
    if mqtt_url is None:
        data.pop("mqtt")
        # The door node talks MQTT; without a broker there is none (and no customer records).
        data["devices"] = [d for d in data["devices"] if d["kind"] != "footfall"]
    if printer_url is not None:
        data["printer"] = {"url": printer_url}  # the counter's simulated ticket printer
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
        await _run(data_dir, options.http_port, mqtt_url, lan=options.lan)
    finally:
        if broker is not None:
            broker.close()


async def _run(data_dir: Path, http_port: int, mqtt_url: str | None, *, lan: bool) -> None:
    # Walk-ins added on the tablet print on a simulated network printer, whose paper is
    # written to text files (docs/counter.md).
    async with SimulatedPrinter(paper_dir=data_dir / "paper") as printer:
        await _run_with_printer(data_dir, http_port, mqtt_url, printer.url, lan=lan)


async def _run_with_printer(
    data_dir: Path, http_port: int, mqtt_url: str | None, printer_url: str, *, lan: bool
) -> None:
    # The port must be known before the config is made: public_url (in the QR codes) has it.
    port = http_port or free_port()
    address = lan_address()
    config = demo_config(data_dir, port, mqtt_url, printer_url, lan=lan, lan_address=address)
    components = build(config)
    daemon = assemble(components)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await daemon.start()
    base = config.http.public_url
    code = tools.pairing_code(config, "demo-tablet")
    print(f"Staff tablet:     {base}/staff   (pairing code {code}, valid 10 minutes)")
    # A window screen is a paired display (contract 8.1): this link types its one-time code
    # by itself (in the #fragment, which no server sees); after that the screen keeps a cookie.
    screen = tools.pairing_code(config, "demo-window", "display")
    print(
        f"Window screen:    {base}/window/advice#pair={screen}   "
        f"(rotating QR code; display pairing code {screen}, valid 10 minutes)"
    )
    manager = tools.pairing_code(config, "demo-manager", "manager")
    print(
        f"Manager tablet:   {base}/staff   (pairing code {manager}; its header links to the "
        "manager view)"
    )
    print(f"Ticket printer:   simulated at {printer_url}; walk-ins print to {data_dir / 'paper'}")
    print(f"Printed sticker:  {tools.join_url(config, 'pickup', _sticker(components))}")
    print(f"Health, metrics:  {base}/healthz  {base}/metrics")
    print(f"Data directory:   {data_dir}")
    print(_phones_line(address, port, lan=lan))
    print("Press Ctrl+C to stop.", flush=True)
    staff_token = (
        await components.staff.pair(
            tools.pairing_code(config, "simulated-counter"), "simulated-counter", "demo"
        )
    ).token
    day = QueueDay(
        base,
        lambda queue: _window_token(components, queue),
        staff_token,
        queues=("advice", "pickup"),
        served_queues=("pickup",),  # the advice queue is left to you, on the tablet
    )
    simulators: list[Simulator] = [day]
    records = [demo_customer(random.Random(7 + i), i) for i in range(DEMO_CUSTOMERS)]
    phones = components.extras.get("ble")
    reader = components.extras.get("nfc")
    camera = components.extras.get("qr")
    simulators.append(
        RecognitionDay(
            records,
            phones if isinstance(phones, SimulatedPhones) else None,
            reader if isinstance(reader, SimulatedNfcReader) else None,
            camera=camera if isinstance(camera, SimulatedCamera) else None,
            pass_key=DEMO_PASS_KEY,
        )
    )
    central: CentralService | None = None
    if mqtt_url is not None and config.mqtt is not None:
        central = CentralService(mqtt_url, config.mqtt.topic_prefix)
        simulators.append(central)
        # A store day every 10 minutes: the store fills up at the lunch peak.
        simulators.append(DoorNodeSimulator(mqtt_url, "main", speed=60.0))
    sims = asyncio.create_task(run_simulators(simulators, stop))
    publishing = asyncio.create_task(
        _customer_records(central, records, stop, config.store.id, config.store.timezone)
    )
    try:
        await stop.wait()
    finally:
        print("Stopping...", flush=True)
        for task in (publishing, sims):
            task.cancel()
        await asyncio.gather(publishing, sims, return_exceptions=True)
        await daemon.stop()


def lan_address() -> str | None:
    """This machine's address on the network its default route leads to (the one a phone on
    the same Wi-Fi reaches), or None without a route. Connecting a UDP socket only picks the
    route and source address; no packet is sent."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: never answered, never needed
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if address.startswith("127.") else address


def _phones_line(address: str | None, port: int, *, lan: bool) -> str:
    if address is None:
        return (
            "Phones:           no network route found; phones can reach this machine only "
            "once it has one"
        )
    url = f"http://{address}:{port}"
    if lan:
        return (
            f"Phones:           {url}/ is this machine on your network: a phone on the same "
            f"Wi-Fi scans the window QR code or opens the URLs above (allow TCP port {port} in "
            "the firewall)"
        )
    return (
        f"Phones:           listening on 127.0.0.1 only; run `retail-edge demo --lan` and a "
        f"phone on the same Wi-Fi reaches it at {url}"
    )


def _window_token(components: Components, queue: str) -> str:
    """What a phone reads off the window: the current code of that queue."""
    queues = components.queues
    if queues.queue_config(queue).printed_sticker:
        return _sticker(components, queue)
    return queues.tokens.rotating(queue, components.clock.now().timestamp())


def _sticker(components: Components, queue: str = "pickup") -> str:
    return components.queues.static_token(queue)


async def _customer_records(
    central: CentralService | None,
    records: list[dict[str, Any]],
    stop: asyncio.Event,
    store: str = "demo",
    zone: str = "UTC",
) -> None:
    """The central side's share of a store day: records arrive, consent changes now and then."""
    if central is None:
        return
    rng = random.Random(7)
    await central.ready.wait()
    central.publish_playbook(demo_playbook())  # the chain's suggestion rules (issue 15)
    for record in records:
        central.publish_customer(record)
    # Today's bookings for the advice queue (issue 14): listed under it on the tablet.
    central.publish_sample_day(store, "advice", zone)
    version = 1
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=30)
        version += 1
        index = rng.randrange(DEMO_CUSTOMERS)
        customer_id = f"c-{index:05d}"
        # Now and then a customer changes their mind in the app: consent withdrawn (the
        # agent forgets them at once), then given again later with a new version.
        if rng.random() < 0.2:
            central.publish_customer(tombstone(customer_id, "revoke", version))
        else:
            central.publish_customer(dict(records[index], version=version))
