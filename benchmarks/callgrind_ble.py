"""Instructions per advertisement on the in-process BLE handler path, under callgrind.

A machine-independent figure (instruction counts do not depend on the neighbours' load, as
times on a shared machine do): the agent built by `agent.bootstrap.build` with its customers
loaded, then N advertisements through the mqtt-proxy adapter's parsing, the sources pump and
`RecognitionService.sighting` (benchmarks/ble_handler_path.py), with callgrind's counting on
for that part only (`callgrind_control -i on/off` from inside). The peer, counted the same
way in the same run: `json.loads` of the same N messages.

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
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.common import Figure, figure

# Assumption for the estimate (benchmarks/README.md): CPython on a Cortex-A72 at 1.8 GHz
# retires about 1.1 instructions per cycle on this kind of code, ~2 000 instructions/us.
PI4_INSTRUCTIONS_PER_US = 2000.0


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
    await _pump(scanner, components.recognition.sighting, None, backoff)
    _counting(False)
    components.runner.call(components.database.close)
    components.runner.close()


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
    note = (
        f"difference of {large} and {small} advertisements, 1000 customers; Pi 4 estimate"
        f" at an assumed {PI4_INSTRUCTIONS_PER_US:.0f} instructions/us: {ours / PI4_INSTRUCTIONS_PER_US:.1f} us"
        f" per advertisement, ~{PI4_INSTRUCTIONS_PER_US * 1e6 / ours:.0f} adv/s on one core"
    )
    return [
        figure(
            "instructions per advertisement, in-process handler path (callgrind)",
            round(ours),
            round(floor),
            "instructions (baseline: json.loads of the same message)",
            "-",
            note,
        )
    ]


if __name__ == "__main__":
    if sys.argv[1:2] == ["--inner"]:
        what, count_text, directory = sys.argv[2:5]
        asyncio.run(_inner(Path(directory), int(count_text), what))
    else:
        for f in run(quick="--quick" in sys.argv):
            print(f)
