"""Memory per opted-in customer, all told: the agent process's RSS with N customers in its
database (loaded at start into the directory and the EID table) minus its RSS with none,
divided by N, at 10 000 and 100 000 customers. Each agent is its own process (bootstrap's
`build` + `assemble`, started, as `retail-edge run` does; no broker). Also, in this process,
tracemalloc's count of what the directory and the EID table hold per customer, with the
parsed records as the peer: what holding `CustomerRecord` objects alone costs.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import subprocess
import sys
import tempfile
import tracemalloc
from pathlib import Path

from benchmarks.ble_consumers import agent_config, seed_customers
from benchmarks.ble_end_to_end import _records
from benchmarks.common import Figure, figure


async def _agent_rss(directory: Path) -> None:
    from agent.bootstrap import assemble, build
    from agent.config.loader import load_config
    from benchmarks.common import rss_mb

    logging.getLogger("agent").setLevel(logging.ERROR)  # no broker here, on purpose
    daemon = assemble(build(load_config(agent_config(directory, 1))))
    await daemon.start()
    await asyncio.sleep(2.0)
    gc.collect()
    print(json.dumps({"rss_mb": rss_mb()}), flush=True)
    await daemon.stop()


def _rss_with(customers: int, workdir: Path) -> float:
    directory = workdir / f"n{customers}"
    directory.mkdir()
    seed_customers(directory / "agent.db", _records(customers))
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.customer_memory", "--inner", str(directory)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return float(json.loads(out.stdout.strip().splitlines()[-1])["rss_mb"])


def _traced(customers: int) -> tuple[float, float]:
    from agent.core.customers import CustomerRecord, parse_customer_message
    from agent.core.eid import EidTable
    from agent.services.directory import CustomerDirectory

    raw = [(json.dumps(r).encode(), str(r["customer_id"])) for r in _records(customers)]
    gc.collect()
    tracemalloc.start()
    start = tracemalloc.get_traced_memory()[0]
    directory, table = CustomerDirectory(), EidTable()
    credentials = []  # as the agent's load: what the table copies, then lets go
    for payload, customer_id in raw:
        record = parse_customer_message(payload, customer_id)
        assert isinstance(record, CustomerRecord)
        directory.put(record)
        if record.eid is not None:
            credentials.append((record.customer_id, record.eid))
    table.rebuild(credentials, 1_790_000_000.0)
    del credentials, record
    gc.collect()
    ours = (tracemalloc.get_traced_memory()[0] - start) / customers
    del directory, table
    gc.collect()
    start = tracemalloc.get_traced_memory()[0]
    parsed = [parse_customer_message(p, c) for p, c in raw]
    gc.collect()
    peer = (tracemalloc.get_traced_memory()[0] - start) / customers
    tracemalloc.stop()
    del parsed
    return ours, peer


def run(quick: bool) -> list[Figure]:
    sizes = (2_000,) if quick else (10_000, 100_000)
    figures = []
    with tempfile.TemporaryDirectory(prefix="customer-memory-") as tmp:
        workdir = Path(tmp)
        empty = _rss_with(0, workdir)
        for n in sizes:
            rss = _rss_with(n, workdir)
            figures.append(
                figure(
                    f"agent RSS per opted-in customer, {n} customers",
                    round((rss - empty) * 1024 * 1024 / n),
                    "600",
                    "bytes, (RSS with them - RSS without) / N (baseline: the goal)",
                    "<= 600 B; 100k customers < 200 MB",
                    f"agent RSS {rss:.1f} MB with {n}, {empty:.1f} MB with none",
                )
            )
    ours, peer = _traced(sizes[-1])
    figures.append(
        figure(
            f"directory + EID table per customer (tracemalloc), {sizes[-1]} customers",
            round(ours),
            round(peer),
            "bytes (baseline: the parsed CustomerRecord objects alone)",
            "-",
            "directory: consent, tier code and NFC card numbers only (name and profile read"
            " from the store for a card); EID table: a slot of flat arrays each, EIDs in a"
            " 12-byte-entry hash index",
        )
    )
    return figures


if __name__ == "__main__":
    if sys.argv[1:2] == ["--inner"]:
        asyncio.run(_agent_rss(Path(sys.argv[2])))
    else:
        for f in run(quick="--quick" in sys.argv):
            print(f)
