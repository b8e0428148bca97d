"""Instructions per advertisement on the in-process BLE handler path, under callgrind.

A machine-independent figure (instruction counts do not depend on the neighbours' load, as
times on a shared machine do): the agent built by `agent.bootstrap.build` with its customers
loaded, then N advertisements through the mqtt-proxy adapter's parsing, the sources pump and
`RecognitionService.sighting` (benchmarks/ble_handler_path.py), with callgrind's counting on
for that part only (`callgrind_control -i on/off` from inside). The peer, counted the same
way in the same run: `json.loads` of the same N messages.

The second figure is the whole path through a real broker: the adapter as the daemon runs it
(its MQTT client included: what the in-process path leaves out) reading N messages from a
mosquitto that queues without limit (`max_queued_messages 0`), so a consumer slowed down by
valgrind still gets every one; counting is on from subscribed to the Nth message counted. Only
the adapter's public interface is used, so the same file counts older versions too. The peer:
a bare paho client that `json.loads` each message, counted the same way.

    python -m benchmarks.callgrind_ble [--quick]     # needs valgrind (Debian: valgrind)

A Raspberry Pi 4 estimate follows from an assumed throughput (benchmarks/README.md says
which, and that it is an estimate, not a measurement).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.common import Figure, figure

# Assumption for the estimate (benchmarks/README.md): CPython on a Cortex-A72 at 1.8 GHz
# retires about 1.1 instructions per cycle on this kind of code, ~2 000 instructions/us.
PI4_INSTRUCTIONS_PER_US = 2000.0


def batch_handler(components: Any) -> tuple[Any, ...]:
    """The pump's batch handler, as `agent.devices` wires it (none in older versions): the
    extra argument to `_pump`."""
    handler = getattr(components.recognition, "sightings", None)
    return () if handler is None else (handler,)


def _counting(on: bool) -> None:
    subprocess.run(
        ["callgrind_control", "-i", "on" if on else "off", str(os.getpid())],
        check=True,
        capture_output=True,
    )


async def _inner(workdir: Path, count: int, what: str) -> None:
    from agent.bootstrap import build
    from agent.config.loader import load_config
    from agent.core.clock import ManualClock
    from agent.services.sources import _pump
    from agent.sync.backoff import Backoff
    from benchmarks.ble_consumers import agent_config
    from benchmarks.ble_end_to_end import _lines, _records
    from benchmarks.ble_handler_path import scanner_over

    payloads = _lines(_records(1000), count)
    if what == "json":
        _counting(True)
        for payload in payloads:
            json.loads(payload)
        _counting(False)
        return
    import random

    # A clock that does not move: instruction counts must not depend on how slowly the
    # program runs under valgrind (with a moving clock, customers would arrive, or not,
    # depending on it). Every sighting is then of a customer at the door, not yet arrived.
    clock = ManualClock(datetime.now(UTC))
    components = build(load_config(agent_config(workdir, 1)), clock=clock)
    await components.recognition.load()
    scanner = scanner_over(components, payloads)
    backoff = Backoff(0.5, 30.0, random.Random(0))
    _counting(True)
    await _pump(scanner, components.recognition.sighting, None, backoff, *batch_handler(components))
    _counting(False)
    components.runner.call(components.database.close)
    components.runner.close()


async def _through_broker(workdir: Path, count: int, port: int) -> None:
    """The adapter as `agent.devices` wires it, fed by the broker; `ready` once subscribed."""
    from agent.adapters.ble_mqtt_proxy import MqttProxyScanner
    from agent.bootstrap import build
    from agent.config.loader import load_config
    from agent.core.clock import ManualClock
    from agent.devices import ble_advertisement_counter
    from benchmarks.ble_consumers import TOPIC, agent_config

    clock = ManualClock(datetime.now(UTC))  # held still, as in _inner
    components = build(load_config(agent_config(workdir, port)), clock=clock)
    await components.recognition.load()
    count_outcome = ble_advertisement_counter(components.metrics, "bench")
    counted = 0
    done = asyncio.Event()

    def count_and_watch(outcome: str, n: int) -> None:
        nonlocal counted
        count_outcome(outcome, n)
        counted += n
        if counted >= count:
            done.set()

    scanner = MqttProxyScanner(f"mqtt://127.0.0.1:{port}", TOPIC, clock, count_and_watch)
    async with scanner:
        _counting(True)
        print("ready", flush=True)
        pump = asyncio.create_task(_pump_all(scanner, components))
        await done.wait()
        _counting(False)
        pump.cancel()
    components.runner.call(components.database.close)
    components.runner.close()


async def _pump_all(scanner: Any, components: Any) -> None:
    import random

    from agent.services.sources import _pump
    from agent.sync.backoff import Backoff

    handle = components.recognition.sighting
    backoff = Backoff(0.5, 30.0, random.Random(0))
    await _pump(scanner, handle, None, backoff, *batch_handler(components))


def _paho_through_broker(count: int, port: int) -> None:
    from benchmarks.ble_consumers import paho_subscriber

    received = 0
    done = threading.Event()

    def on_payload(payload: bytes) -> None:
        nonlocal received
        json.loads(payload)
        received += 1
        if received == count:
            _counting(False)
            done.set()

    client = paho_subscriber(port, on_payload)
    _counting(True)
    print("ready", flush=True)
    done.wait()
    client.loop_stop()


def _count_through_broker(what: str, count: int, workdir: Path, lines: Path) -> int:
    from benchmarks.ble_end_to_end import publish_lines
    from simulators.mosquitto import MosquittoBroker

    out = workdir / f"callgrind.broker-{what}.{count}.out"
    command = [
        "valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
        sys.executable, "-m", "benchmarks.callgrind_ble", "--inner", f"broker-{what}",
        str(count), str(workdir),
    ]  # fmt: skip
    with MosquittoBroker(persistence=False, extra_config="max_queued_messages 0") as broker:
        command.append(str(broker.port))
        log = (workdir / f"valgrind.broker-{what}.{count}.log").open("w")
        consumer = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, text=True)
        log.close()
        assert consumer.stdout is not None
        try:
            while consumer.stdout.readline().strip() != "ready":
                if consumer.poll() is not None:
                    raise RuntimeError(f"{what} consumer did not start")
            publish_lines(broker.port, lines)
            if consumer.wait(timeout=1800) != 0:
                raise RuntimeError(f"{what} consumer failed")
        finally:
            if consumer.poll() is None:
                consumer.kill()
                consumer.wait()
    return _totals(out)


def _count(what: str, count: int, workdir: Path) -> int:
    out = workdir / f"callgrind.{what}.{count}.out"
    subprocess.run(
        [
            "valgrind", "--tool=callgrind", "--instr-atstart=no",
            f"--callgrind-out-file={out}", sys.executable, "-m", "benchmarks.callgrind_ble",
            "--inner", what, str(count), str(workdir),
        ],
        check=True, capture_output=True,
    )  # fmt: skip
    return _totals(out)


def _totals(out: Path) -> int:
    match = re.search(r"^totals: (\d+)", out.read_text(), re.MULTILINE)
    assert match is not None, "no totals in the callgrind output"
    return int(match.group(1))


def run(quick: bool) -> list[Figure]:
    if shutil.which("valgrind") is None:
        return [figure("instructions per advertisement", "valgrind not installed", "-", "-", "-")]
    from benchmarks.ble_consumers import seed_customers
    from benchmarks.ble_end_to_end import _records

    small, large = (200, 1200) if quick else (2000, 12000)
    with tempfile.TemporaryDirectory(prefix="callgrind-") as tmp:
        workdir = Path(tmp)
        seed_customers(workdir / "agent.db", _records(1000))
        # Two sizes, so what is counted once (the first batch, caches warming) cancels out.
        ours = (_count("agent", large, workdir) - _count("agent", small, workdir)) / (large - small)
        floor = (_count("json", large, workdir) - _count("json", small, workdir)) / (large - small)
        through: dict[str, float] = {}
        if shutil.which("mosquitto_pub") is not None:
            from benchmarks.ble_end_to_end import _lines

            lines = _lines(_records(1000), large)
            for size in (small, large):
                (workdir / f"lines.{size}").write_bytes(b"\n".join(lines[:size]) + b"\n")
            for what in ("agent", "paho"):
                counts = [
                    _count_through_broker(what, n, workdir, workdir / f"lines.{n}")
                    for n in (small, large)
                ]
                through[what] = (counts[1] - counts[0]) / (large - small)
    note = (
        f"difference of {large} and {small} advertisements, 1000 customers; Pi 4 estimate"
        f" at an assumed {PI4_INSTRUCTIONS_PER_US:.0f} instructions/us: {ours / PI4_INSTRUCTIONS_PER_US:.1f} us"
        f" per advertisement, ~{PI4_INSTRUCTIONS_PER_US * 1e6 / ours:.0f} adv/s on one core"
    )
    figures = [
        figure(
            "instructions per advertisement, in-process handler path (callgrind)",
            round(ours),
            round(floor),
            "instructions (baseline: json.loads of the same message)",
            "-",
            note,
        )
    ]
    if through:
        figures.append(
            figure(
                "instructions per advertisement through mosquitto, MQTT client included",
                round(through["agent"]),
                round(through["paho"]),
                "instructions (baseline: bare paho + json.loads, same broker and messages)",
                "-",
                f"difference of {large} and {small} advertisements, 1000 customers; Pi 4"
                f" estimate: {through['agent'] / PI4_INSTRUCTIONS_PER_US:.1f} us per"
                " advertisement",
            )
        )
    return figures


if __name__ == "__main__":
    if sys.argv[1:2] == ["--inner"]:
        what, count_text, directory = sys.argv[2:5]
        if what == "broker-agent":
            asyncio.run(_through_broker(Path(directory), int(count_text), int(sys.argv[5])))
        elif what == "broker-paho":
            _paho_through_broker(int(count_text), int(sys.argv[5]))
        else:
            asyncio.run(_inner(Path(directory), int(count_text), what))
    else:
        for f in run(quick="--quick" in sys.argv):
            print(f)
