"""BLE end to end through a real broker: ESP32 scanners' BTtoMQTT JSON -> mosquitto -> the
agent's mqtt-proxy adapter -> the sources pump -> RecognitionService.sighting -> presence.

10 000 opted-in customers. The publisher is mosquitto's own C client (`mosquitto_pub -l`, one
message per line, flat out), so the Python side measured is the consumer alone. Peer in the
same run, on the same broker with the same messages: a bare paho client that `json.loads`
each message. Each consumer runs in its own process; CPU is that process's, all threads.

A second, paced run at about half the agent's measured flat-out rate checks that nothing is
lost below saturation (every advertisement is counted by the agent's own metrics).

With mosquitto's default limits the broker drops QoS 0 messages for a consumer that falls
behind, so the flat-out figures partly measure how much of a burst each consumer grabs.
`BLE_E2E_UNLIMITED=1` runs the broker with `max_queued_messages 0`: it drops nothing, every
consumer gets every message, and both are CPU-bound.
"""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.ble_consumers import seed_customers
from benchmarks.ble_ingest import _payloads
from benchmarks.common import Figure, figure
from simulators.customers import demo_customer
from simulators.mosquitto import MosquittoBroker

PUBLISH_TOPIC = "home/door-esp32/BTtoMQTT/7A1122334455"
WARMUP_SETTLE_S = 4.0  # ~1000 arrivals, each a durable commit, finish within this


def _records(n: int) -> list[dict[str, Any]]:
    rng = random.Random(7)
    return [demo_customer(rng, i) for i in range(n)]


def _lines(records: list[dict[str, Any]], n: int) -> list[bytes]:
    """Advertisements from 2000 phones, half of them the seeded customers' (EIDs current)."""
    from agent.core.customers import EidCredential

    rng = random.Random(3)
    credentials = [
        (
            str(r["customer_id"]),
            EidCredential(
                bytes.fromhex(r["credentials"]["eid"]["identity_key"]),
                r["credentials"]["eid"]["rotation_exponent"],
                r["credentials"]["eid"]["epoch"],
            ),
        )
        for r in records
    ]
    return _payloads(credentials, n, rng, now=time.time())


def _consume(
    mode: str,
    broker: MosquittoBroker,
    lines_file: Path,
    count: int,
    workdir: Path,
    rate: int,
    warmup: list[bytes],
) -> dict[str, float]:
    command = [sys.executable, "-m", "benchmarks.ble_consumers", mode, str(broker.port)]
    profile_dir = os.environ.get("BLE_E2E_PROFILE_DIR")  # py-spy on PATH: sample the consumer
    if profile_dir:
        out = f"{profile_dir}/{mode}-{rate}.txt"
        command[:0] = ["py-spy", "record", "-r", "400", "-f", "raw", "-o", out, "--"]
    command += [str(count), str(workdir)]
    consumer = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert consumer.stdout is not None and consumer.stdin is not None
    try:
        while consumer.stdout.readline().strip() != "ready":
            if consumer.poll() is not None:
                raise RuntimeError(f"{mode} consumer did not start")
        if warmup:
            _warm_up(broker.port, warmup)
        consumer.stdin.write("go\n")
        consumer.stdin.flush()
        time.sleep(0.2)
        started = time.monotonic()
        if rate:
            _paced_publish(broker.port, lines_file, rate)
        else:
            publish_lines(broker.port, lines_file)
        result: dict[str, float] = json.loads(consumer.stdout.readline())
        consumer.wait(timeout=30)
    finally:
        # A failed run (no mosquitto_pub, say) must not leave the consumer running with the
        # suite's stderr open: `python -m benchmarks` would never be seen to end.
        if consumer.poll() is None:
            consumer.kill()
            consumer.wait()
    result["seconds"] = result["last_at"] - started
    return result


def publish_lines(port: int, lines_file: Path) -> None:
    """Every line of ``lines_file`` as one QoS 0 message, flat out, by mosquitto's C client."""
    publish = [
        "mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-t", PUBLISH_TOPIC, "-q", "0", "-l",
    ]  # fmt: skip
    with lines_file.open("rb") as source:
        subprocess.run(publish, stdin=source, check=True)


def _warm_up(port: int, phones: list[bytes]) -> None:
    """Every phone heard twice, 2.5 s apart, close to the door: the customers among them
    arrive (a visit and an alert each, committed one by one), before the measured run."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.connect("127.0.0.1", port)
    client.loop_start()
    for round_ in range(2):
        for index in range(0, len(phones), 200):
            for line in phones[index : index + 200]:
                client.publish(PUBLISH_TOPIC, line, qos=0)
            time.sleep(0.02)
        time.sleep(2.5 if round_ == 0 else 0)
    time.sleep(WARMUP_SETTLE_S)
    client.loop_stop()
    client.disconnect()


def _phones(lines: list[bytes]) -> list[bytes]:
    """One strong advertisement per distinct phone (address) in the run."""
    seen: dict[str, bytes] = {}
    for line in lines:
        doc = json.loads(line)
        seen.setdefault(doc["id"], json.dumps({**doc, "rssi": -50}).encode())
    return list(seen.values())


def _paced_publish(port: int, lines_file: Path, rate: int) -> None:
    """The lines as QoS 0 PUBLISH packets at ``rate``/s, a burst every 10 ms as a few
    scanners batch their uplinks. The packets are encoded before the clock starts and written
    to the socket as they fall due: the scanners are devices of their own, so pacing must
    cost this machine next to nothing. (A paho client publishing one by one took ~a core at
    50 000/s, fell behind and caught up in bursts the agent was then measured on.)"""
    topic = PUBLISH_TOPIC.encode()
    packets = [
        _mqtt_packet(0x30, len(topic).to_bytes(2, "big") + topic + line)
        for line in lines_file.read_bytes().splitlines()
    ]
    step = max(1, rate // 100)
    chunks = [b"".join(packets[i : i + step]) for i in range(0, len(packets), step)]
    client_id = b"bench-paced"
    connect = b"\x00\x04MQTT\x04\x02\x00\x3c" + len(client_id).to_bytes(2, "big") + client_id
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(_mqtt_packet(0x10, connect))
        if sock.recv(4)[:1] != b"\x20":
            raise RuntimeError("the broker did not accept the paced publisher")
        started = time.monotonic()
        for index, chunk in enumerate(chunks):
            sock.sendall(chunk)
            pause = started + (index + 1) * step / rate - time.monotonic()
            if pause > 0:
                time.sleep(pause)
        sock.sendall(b"\xe0\x00")  # DISCONNECT
        time.sleep(0.5)


def _mqtt_packet(header: int, body: bytes) -> bytes:
    length, encoded = len(body), bytearray()
    while True:
        length, digit = divmod(length, 128)
        encoded.append(digit | (0x80 if length else 0))
        if not length:
            return bytes([header]) + bytes(encoded) + body


def _broker_limits() -> str:
    return "max_queued_messages 0" if os.environ.get("BLE_E2E_UNLIMITED") == "1" else ""


def run(quick: bool) -> list[Figure]:
    count = 10_000 if quick else 200_000
    customers = 500 if quick else 10_000
    with (
        tempfile.TemporaryDirectory(prefix="ble-e2e-") as tmp,
        MosquittoBroker(persistence=False, extra_config=_broker_limits()) as broker,
    ):
        workdir = Path(tmp)
        records = _records(customers)
        lines_file = workdir / "advertisements.txt"
        lines = _lines(records, count)
        lines_file.write_bytes(b"\n".join(lines) + b"\n")
        warmup = [] if quick else _phones(lines)  # quick (CI): the path runs, that is all
        seed_customers(workdir / "agent.db", records)
        peer = _consume("paho", broker, lines_file, count, workdir, 0, warmup)
        ours = _consume("agent", broker, lines_file, count, workdir, 0, warmup)
        ours_handled = ours["received"] - ours["queue_full"]  # dropped ones are not work done
        ours_rate = ours_handled / ours["seconds"]
        paced_rate = max(1000, int(ours_rate * 0.5) // 1000 * 1000)
        paced_count = min(count, paced_rate * (1 if quick else 10))
        paced_file = workdir / "paced.txt"
        paced_file.write_bytes(b"\n".join(lines_file.read_bytes().splitlines()[:paced_count]))
        paced = _consume("agent", broker, paced_file, paced_count, workdir, paced_rate, warmup)
    peer_rate = peer["received"] / peer["seconds"]
    note = (
        f"{count} advertisements via mosquitto_pub -l, {customers} customers; agent took in"
        f" {ours['received']:.0f} and handled {ours_handled:.0f} (the rest: counted queue-full"
        f" drops), paho"
        f" {peer['received']:.0f}"
    )
    return [
        figure(
            f"BLE end to end through mosquitto, {customers} customers, flat out",
            round(ours_rate),
            round(peer_rate),
            "adv/s (baseline: bare paho + json.loads, same broker and messages)",
            ">= 0.7x",
            note,
        ),
        figure(
            "BLE end to end: CPU per advertisement",
            round(ours["cpu_s"] / max(1, ours_handled) * 1e6, 1),
            round(peer["cpu_s"] / max(1, peer["received"]) * 1e6, 1),
            "us of the consumer process, all threads (baseline: bare paho + json.loads)",
            "<= 15 us",
            note,
        ),
        figure(
            f"BLE end to end, paced at {paced_rate}/s",
            f"{paced['received'] - paced['queue_full']:.0f} of {paced_count}",
            paced_count,
            "advertisements the agent counted (baseline: published)",
            "none lost below saturation",
            f"queue-full drops {paced['queue_full']:.0f}",
        ),
    ]


if __name__ == "__main__":
    for f in run(quick="--quick" in sys.argv):
        print(f)
