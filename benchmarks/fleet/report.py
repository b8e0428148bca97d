"""The fleet's figures: the latency knee, the throughput ceiling, the ramp steps, gaps and
duplicates, broker memory, start-up and memory per agent, against their same-run baselines.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from benchmarks.common import Figure, figure
from benchmarks.fleet.central import Ledger
from benchmarks.fleet.plan import (
    CONSUMERS,
    GROUP,
    P99_KNEE_MS,
    P99_LIMIT_MS,
    SUSTAINED_SHARE,
    Plan,
)


@dataclass
class Step:
    rate: float
    offered: float
    start: float
    end: float
    cpu: dict[str, float]
    broker_rss: float
    stats: dict[str, float] = field(default_factory=dict)

    def sustained(self, p99_ms: float = P99_LIMIT_MS) -> bool:
        s = self.stats
        return (
            s["delivered"] >= SUSTAINED_SHARE * self.offered
            and s["sent"] >= SUSTAINED_SHARE * self.offered
            and s["p99"] <= p99_ms
        )


def last_sustained(steps: Sequence[Step], p99_ms: float) -> Step | None:
    """The last step of the ramp before the first one that was not sustained."""
    last = None
    for step in steps:
        if not step.sustained(p99_ms):
            break
        last = step
    return last


def figures_of(
    plan: Plan, base: dict[str, Any], fleet: dict[str, Any], ledger: Ledger
) -> list[Figure]:
    steps: list[Step] = fleet["steps"]
    ceiling = last_sustained(steps, P99_LIMIT_MS)
    knee = last_sustained(steps, P99_KNEE_MS)
    peak = max(steps, key=lambda s: s.stats["delivered"])
    nominal = steps[0]
    flat, paced, fc = base["flat"], base["paced"], base["flat_cpu"]
    duplicates, conflicts, malformed = ledger.totals()
    base_gaps = sum(
        1
        for (store, _seq) in ledger.sent
        if store.startswith("bare-") and (store, _seq) not in ledger.received
    )
    fleet_sets = [
        {s for s in stores if s.startswith("store-")}
        for stores in ledger.stores_per_consumer.values()
    ]
    split = len(set.intersection(*fleet_sets)) if fleet_sets else 0
    where = (
        f"{plan.stores} stores in {plan.workers} worker processes, {CONSUMERS} consumers in "
        f"$share/{GROUP}, 2 vCPU"
    )

    def at(step: Step | None, limit: float) -> tuple[str | int, str]:
        if step is None:
            return "none", f"no step had p99 <= {limit:.0f} ms; {where}"
        s = step.stats
        return round(s["delivered"]), (
            f"{step.rate:g} ev/s per store offered, {s['messages']:.0f} messages/s, p50/p99 "
            f"{s['p50']:.1f}/{s['p99']:.1f} ms, broker {step.cpu['broker']:.0f}% of a core, "
            f"agents {step.cpu['agents']:.0f}%; {where}"
        )

    figures = [
        figure(
            f"fleet: latency knee (last step with p99 <= {P99_KNEE_MS:.0f} ms)",
            at(knee, P99_KNEE_MS)[0],
            round(flat["delivered"]),
            "events/s delivered (baseline: bare aiomqtt QoS 1, 1 event/message, flat out)",
            f">= {plan.stores} (every store at 1 event/s)",
            at(knee, P99_KNEE_MS)[1],
        ),
        figure(
            f"fleet: throughput ceiling (last step with p99 <= {P99_LIMIT_MS:.0f} ms)",
            at(ceiling, P99_LIMIT_MS)[0],
            round(flat["delivered"]),
            "events/s delivered (baseline as above)",
            "-",
            at(ceiling, P99_LIMIT_MS)[1],
        ),
        figure(
            "fleet: peak delivered throughput",
            round(peak.stats["delivered"]),
            round(flat["delivered"]),
            "events/s (baseline as above)",
            "-",
            f"at {peak.rate:g} ev/s per store offered ({peak.offered:.0f}/s), "
            f"{peak.stats['messages']:.0f} messages/s; baseline {flat['messages']:.0f} messages/s, "
            f"CPU % of a core: broker {fc['broker']:.0f}, publishers {fc['publishers']:.0f}, "
            f"central {fc['central']:.0f}; machine {fc['machine']:.0f}% busy",
        ),
        figure(
            "fleet: latency p50 / p99 at 1 event/s per store",
            f"{nominal.stats['p50']:.1f} / {nominal.stats['p99']:.1f}",
            f"{paced['p50']:.1f} / {paced['p99']:.1f}",
            "ms, append in the agent's commit -> central receipt (baseline: bare publish -> "
            "receipt, same total rate)",
            f"p99 <= {P99_LIMIT_MS:.0f} ms",
            f"{nominal.offered:.0f} events/s offered",
        ),
    ]
    for step in steps:
        s = step.stats
        figures.append(
            figure(
                f"fleet step {step.rate:g} ev/s/store",
                round(s["delivered"]),
                round(step.offered),
                "events/s delivered (baseline: offered)",
                "sustained: >= 95% delivered, p99 <= 1 s",
                f"{s['messages']:.0f} msg/s, p50/p99 {s['p50']:.1f}/{s['p99']:.1f} ms, CPU % of "
                f"a core: broker {step.cpu['broker']:.0f}, agents {step.cpu['agents']:.0f}, "
                f"central {step.cpu['central']:.0f}; machine {step.cpu['machine']:.0f}% busy; "
                f"broker RSS {step.broker_rss:.1f} MB; "
                + ("sustained" if step.sustained() else "NOT sustained"),
            )
        )
    figures += [
        figure(
            "fleet: gaps / duplicates / conflicts",
            f"{fleet['gaps']} / {duplicates} / {conflicts}",
            f"{base_gaps} / - / -",
            "events (union of the consumer group; baseline: bare clients' gaps)",
            "0 gaps, 0 conflicts",
            f"{fleet['events']} events from {plan.stores} stores; malformed {malformed}; "
            f"{split} stores' events were spread over all {CONSUMERS} consumers",
        ),
        figure(
            "broker RSS: fleet connected / peak",
            f"{fleet['broker_rss_connected']:.1f} / {fleet['broker_hwm']:.1f}",
            round(base["broker_rss"], 1),
            "MB (baseline: after the bare runs)",
            "-",
            f"{plan.stores} sessions, {plan.customers} retained customer records",
        ),
        figure(
            "fleet start: all agents connected / all hold every customer record",
            f"{fleet['connect_s']:.1f} / {fleet['resync_s']:.1f}",
            "-",
            "s after the start command (slowest worker)",
            "-",
            f"resync = {plan.stores} x {plan.customers} = {plan.stores * plan.customers} "
            "retained deliveries, each applied in SQLite",
        ),
    ]
    before, after = zip(*fleet["worker_rss"], strict=True)
    per_agent = (sum(after) - sum(before)) / plan.stores
    figures.append(
        figure(
            "memory per simulated agent",
            round(per_agent, 2),
            round(before[0], 1),
            "MB (baseline: a worker process before its first agent)",
            "-",
            f"worker RSS {min(after):.0f}-{max(after):.0f} MB for {plan.stores // plan.workers}"
            " agents",
        )
    )
    c = base["c"]
    if c is not None:
        figures.append(
            figure(
                "broker headroom: mosquitto's C clients flat out",
                round(c["rate"]),
                round(flat["messages"]),
                "QoS 1 messages/s through the broker (baseline: bare aiomqtt, flat out)",
                "-",
                f"8 mosquitto_pub -l -> 2 mosquitto_sub in one $share group; broker "
                f"{c['broker_cpu']:.0f}% of a core, machine {c['machine']:.0f}% busy; "
                f"received {c['received']:.0f} of {c['sent']:.0f}",
            )
        )
    return figures
