"""Child-process plumbing and measurement: spawned children answering over a pipe, CPU and
memory from /proc, and the retained customer records published before the stores connect.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho_mqtt
from paho.mqtt.enums import CallbackAPIVersion

from benchmarks.fleet.plan import PREFIX, SPAWN
from simulators.customers import demo_customer


def cpu_ticks(pid: int | None = None) -> float:
    """utime + stime of a process, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return float(sum(values) - idle), float(sum(values))


def vm(pid: int, key: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


@dataclass
class Cpu:
    """CPU use of named process groups between `start()` and `stop()`, in % of one core."""

    groups: dict[str, list[int]]
    began: float = 0.0
    ticks: dict[str, float] = field(default_factory=dict)
    machine: tuple[float, float] = (0.0, 0.0)

    def start(self) -> None:
        self.began = time.monotonic()
        self.ticks = {name: self._ticks(pids) for name, pids in self.groups.items()}
        self.machine = machine_busy()

    def stop(self) -> dict[str, float]:
        elapsed = time.monotonic() - self.began
        used = {
            name: 100 * (self._ticks(pids) - self.ticks[name]) / elapsed
            for name, pids in self.groups.items()
        }
        busy, total = machine_busy()
        used["machine"] = 100 * (busy - self.machine[0]) / max(1.0, total - self.machine[1])
        return used

    @staticmethod
    def _ticks(pids: list[int]) -> float:
        return sum(cpu_ticks(pid) for pid in pids)


class Child:
    def __init__(self, name: str, target: Callable[..., None], *args: object) -> None:
        self.conn, child_end = SPAWN.Pipe()
        self.process: BaseProcess = SPAWN.Process(
            target=target, args=(child_end, *args), name=name, daemon=True
        )
        self.process.start()
        child_end.close()

    @property
    def pid(self) -> int:
        assert self.process.pid is not None
        return self.process.pid

    def send(self, *message: object) -> None:
        self.conn.send(message)

    def reply(self, timeout: float = 120.0) -> Any:
        if not self.conn.poll(timeout):
            raise TimeoutError(f"{self.process.name} did not answer within {timeout:.0f} s")
        return self.conn.recv()

    def end(self) -> None:
        self.process.join(timeout=10)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(timeout=5)


def publish_customers(port: int, count: int) -> None:
    rng = random.Random(7)
    client = paho_mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id="central-records",
        protocol=paho_mqtt.MQTTv5,
    )
    client.connect("127.0.0.1", port)
    client.loop_start()
    infos = [
        client.publish(
            f"{PREFIX}/chain/customers/c-{i:05d}",
            json.dumps(demo_customer(rng, i)).encode(),
            qos=1,
            retain=True,
        )
        for i in range(count)
    ]
    for info in infos:
        info.wait_for_publish(timeout=30)
    client.disconnect()
    client.loop_stop()


def ask_all(children: Sequence[Child], *message: object, timeout: float = 120.0) -> list[Any]:
    for child in children:
        child.send(*message)
    return [child.reply(timeout) for child in children]
