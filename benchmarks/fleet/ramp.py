"""The run: start the broker and the central group, measure the baselines, ramp the fleet's
offered rate step by step, and hand everything to the report.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from typing import Any

from benchmarks.common import Figure, rss_mb
from benchmarks.fleet.agents import worker_main
from benchmarks.fleet.baselines import c_clients, measure_baselines
from benchmarks.fleet.central import Ledger, collect_ledgers, consumer_main
from benchmarks.fleet.plan import (
    BROKER_CONFIG,
    CONSUMERS,
    FULL,
    QUICK,
    TMPFS,
    Plan,
)
from benchmarks.fleet.processes import Child, Cpu, ask_all, publish_customers, vm
from benchmarks.fleet.report import Step, figures_of
from simulators.mosquitto import MosquittoBroker


def ramp_fleet(
    plan: Plan, broker: Any, consumers: list[Child], ledger: Ledger, tmp: str
) -> dict[str, Any]:
    port, broker_pid = broker.port, broker.process.pid
    stores = [f"store-{i:04d}" for i in range(plan.stores)]
    publish_customers(port, plan.customers)
    chunks = [stores[i :: plan.workers] for i in range(plan.workers)]
    workers = [
        Child(f"worker-{i}", worker_main, broker.url, chunk, tmp) for i, chunk in enumerate(chunks)
    ]
    out: dict[str, Any] = {"workers": len(workers)}
    try:
        started = ask_all(workers, "start", timeout=300)
        out["connect_s"] = max(s[0] for s in started)
        out["worker_rss"] = [(s[1], s[2]) for s in started]
        resynced = ask_all(workers, "customers", plan.customers, timeout=300)
        out["resync_s"] = max(resynced)
        out["broker_rss_connected"] = rss_mb(broker_pid)
        cpu = Cpu(
            {
                "broker": [broker_pid],
                "agents": [w.pid for w in workers],
                "central": [c.pid for c in consumers],
            }
        )
        steps: list[Step] = []
        for rate in plan.rates:
            cpu.start()
            start = time.monotonic()
            for stamps in ask_all(workers, "step", rate, plan.step_s):
                ledger.add_sent(stamps)
            end = time.monotonic()
            step = Step(rate, rate * plan.stores, start, end, cpu.stop(), rss_mb(broker_pid))
            time.sleep(1.0)
            collect_ledgers(consumers, ledger)
            step.stats = ledger.window(start + plan.settle_s, end, "store-")
            steps.append(step)
            print(
                f"[fleet] {rate:g} ev/s/store: offered {step.offered:.0f}, delivered "
                f"{step.stats['delivered']:.0f} ev/s, p99 {step.stats['p99']:.0f} ms, broker "
                f"{step.cpu['broker']:.0f}% CPU",
                flush=True,
            )
            if not step.sustained():
                break
        last_seq: dict[str, int] = {}
        for stamps, seqs in ask_all(workers, "drain", timeout=300):
            ledger.add_sent(stamps)
            last_seq.update(seqs)
        deadline = time.monotonic() + 120
        while True:
            collect_ledgers(consumers, ledger)
            missing = ledger.gaps(last_seq)
            if not missing or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        # Final figures: every event has arrived now, so latencies are exact.
        for step in steps:
            step.stats = ledger.window(step.start + plan.settle_s, step.end, "store-")
        out["gaps"] = missing
        out["events"] = sum(last_seq.values())
        out["steps"] = steps
        out["broker_hwm"] = vm(broker_pid, "VmHWM")
        out["stop_rss"] = ask_all(workers, "stop", timeout=120)
        return out
    finally:
        for worker in workers:
            worker.end()


def run(quick: bool) -> list[Figure]:
    plan = QUICK if quick else FULL
    tmp = tempfile.mkdtemp(prefix="retail-edge-fleet-", dir=TMPFS if TMPFS.is_dir() else None)
    ledger = Ledger()
    consumers: list[Child] = []
    try:
        with MosquittoBroker(persistence=False, extra_config=BROKER_CONFIG) as broker:
            assert broker.process is not None
            broker_pid = broker.process.pid
            consumers = [
                Child(f"central-{i}", consumer_main, broker.port, i) for i in range(CONSUMERS)
            ]
            for child in consumers:
                if child.reply(60) != "ready":
                    raise RuntimeError("central consumer did not start")
            base = measure_baselines(plan, broker.port, consumers, ledger, broker_pid)
            fleet = ramp_fleet(plan, broker, consumers, ledger, tmp)
            base["c"] = c_clients(plan, broker.port, broker_pid, tmp)
            collect_ledgers(consumers, ledger)
            ask_all(consumers, "stop")
    finally:
        for child in consumers:
            child.end()
        shutil.rmtree(tmp, ignore_errors=True)
    return figures_of(plan, base, fleet, ledger)
