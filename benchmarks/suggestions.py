"""Suggestions on arrival (issue 15): what they cost per arrival, through the path the daemon
runs. An NFC tap enters the simulated reader, the recognition service commits the alert with
its suggestions (visits, live ticket and staff notes read, the 50-rule playbook applied, the
suggestions and their `suggestion.shown` / `suggestion.withheld` events written in the same
transaction), and a client of the staff SSE stream reads the `arrival` frame.

Peer, in the same run and the same agent: the same taps with the playbook switched off by
the central playbook command (the alert path exactly as before suggestions: no reads, no
rows, no events), taps interleaved one for one so drift hits both alike. Floor: an empty
event on the same stream. Also the pure computation (`agent.core.suggestions.suggest`) for
the 50-rule playbook against the 9-rule default. Stores of 10k and 100k customers (1k in
--quick), each with three earlier visits, so every read goes through a realistic index.
"""

from __future__ import annotations

import asyncio
import json
import random
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from agent import tools
from agent.bootstrap import Components, assemble, build
from agent.config.loader import parse_config
from agent.core.clock import rfc3339
from agent.core.customers import parse_customer_message
from agent.core.playbook import KINDS, ApplyPlaybook, default_playbook
from agent.core.profile_facts import profile_facts
from agent.core.suggestions import ArrivalContext, suggest
from agent.services.hub import STAFF_TOPIC
from agent.store.customers import CustomerRepository
from benchmarks.common import Figure, figure, percentile
from simulators.customers import demo_customer


def fifty_rules() -> list[dict[str, Any]]:
    """A chain's playbook of 50 rules: every kind several times, with thresholds, campaigns
    (a 10 % holdout on every other one) and per-language texts."""
    rules: list[dict[str, Any]] = []
    for n in range(50):
        kind = KINDS[n % len(KINDS)]
        rule: dict[str, Any] = {"id": f"r{n:02d}", "kind": kind, "priority": (n * 37) % 100}
        if n % 2 == 0:
            rule |= {"campaign": f"camp-{n}", "holdout_percent": 10}
        if n % 3 == 0:
            rule["text"] = {"fr": f"Règle {n} : {{tier}}", "en": f"Rule {n}: {{tier}}"}
        if kind == "tier":
            rule["tiers"] = ["gold", "silver"] if n % 2 else []
        if kind == "birthday":
            rule["within_days"] = 3 + n % 7
        rules.append(rule)
    return rules


def _bulk_load(components: Components, count: int) -> list[dict[str, Any]]:
    """Records and three earlier visits each, written in one transaction (loading 100k
    records one message at a time would take minutes and measure nothing of interest)."""
    now = datetime.now(UTC)
    records = [demo_customer(random.Random(i), i, now=now) for i in range(count)]
    for record in records:
        record["consent"] = {"recognition": True, "staff_profile": True}
    database = components.database
    repository = CustomerRepository(database)

    def write() -> None:
        with database.atomic():
            for record in records:
                parsed = parse_customer_message(json.dumps(record).encode(), record["customer_id"])
                repository.upsert(parsed, now)  # type: ignore[arg-type]
            database.conn.executemany(
                "INSERT INTO visits(visit_id, customer_id, via, arrived_at) VALUES (?, ?, ?, ?)",
                [
                    (
                        f"v-{i}-{k}",
                        r["customer_id"],
                        "nfc",
                        rfc3339(now - timedelta(days=5 + 20 * k)),
                    )
                    for i, r in enumerate(records)
                    for k in range(3)
                ],
            )

    components.runner.call(write)
    return records


async def _latencies(customers: int, taps: int) -> dict[str, list[float]]:
    with tempfile.TemporaryDirectory() as tmp:
        config = parse_config(
            {
                "store": {"id": "bench-01", "name": "Bench", "timezone": "Europe/Paris"},
                "storage": {"path": str(Path(tmp) / "agent.db")},
                "http": {"bind": "127.0.0.1", "port": 0, "public_url": "http://127.0.0.1"},
                "devices": [{"kind": "nfc", "adapter": "simulated"}],
                "playbook": {"rules": fifty_rules()},
            },
            source=Path(tmp) / "bench.toml",
        )
        components = build(config)
        records = _bulk_load(components, customers)
        daemon = assemble(components)
        await daemon.start()
        suggestions = components.suggestions
        with_rules = suggestions.playbook
        assert len(with_rules.rules) == 50
        try:
            code = tools.pairing_code(config, "bench")
            base = f"http://127.0.0.1:{daemon.web.port}"
            async with httpx.AsyncClient(base_url=base, timeout=30) as client:
                token = (
                    await client.post("/api/v1/pair", json={"code": code, "device_name": "b"})
                ).json()["token"]
                headers = {"Authorization": f"Bearer {token}"}
                frames: asyncio.Queue[tuple[str, float, int]] = asyncio.Queue()

                async def listen() -> None:
                    async with client.stream("GET", "/api/v1/staff/stream", headers=headers) as s:
                        event = ""
                        async for line in s.aiter_lines():
                            if line.startswith("event: "):
                                event = line[7:]
                            elif line.startswith("data: ") and event in ("arrival", "ping"):
                                shown = len(json.loads(line[6:]).get("suggestions", []))
                                frames.put_nowait((event, time.perf_counter(), shown))

                listener = asyncio.create_task(listen())
                await asyncio.sleep(0.3)
                reader = components.extras["nfc"]
                rng = random.Random(3)
                picked = [records[rng.randrange(len(records))] for _ in range(taps)]
                result: dict[str, list[float]] = {
                    "with": [],
                    "without": [],
                    "floor": [],
                    "shown": [],
                }
                version = 1
                for record in picked:
                    uid = record["credentials"]["nfc_uids"][0]
                    for mode in ("with", "without"):
                        version += 1
                        playbook = replace(
                            with_rules, enabled=mode == "with", source="central", version=version
                        )
                        await suggestions.apply_central(ApplyPlaybook(playbook))
                        started = time.perf_counter()
                        reader.tap(uid)  # type: ignore[attr-defined]
                        _, at, shown = await frames.get()
                        result[mode].append(at - started)
                        if mode == "with":
                            result["shown"].append(float(shown))
                    started = time.perf_counter()
                    components.hub.publish(STAFF_TOPIC, "ping", {})
                    _, at, _ = await frames.get()
                    result["floor"].append(at - started)
                listener.cancel()
                return result
        finally:
            await daemon.stop()


def _compute(calls: int) -> tuple[float, float]:
    """Microseconds per `suggest` call: the 50-rule playbook, the 9-rule default."""
    config = parse_config(
        {
            "store": {"id": "bench-01", "name": "Bench"},
            "storage": {"path": "x.db"},
            "http": {"public_url": "http://127.0.0.1"},
            "playbook": {"rules": fifty_rules()},
        },
        source=Path("bench.toml"),
    )
    now = datetime.now(UTC)
    facts = [
        profile_facts(demo_customer(random.Random(i), i, now=now)["profile"]) for i in range(50)
    ]
    context = ArrivalContext(
        now=now, zone=ZoneInfo("Europe/Paris"), earlier_visits=(now - timedelta(days=3),)
    )
    timings = []
    for playbook in (config.playbook.playbook, default_playbook()):
        started = time.perf_counter()
        for n in range(calls):
            suggest(f"c-{n}", facts[n % len(facts)], context, playbook, b"k" * 32)
        timings.append((time.perf_counter() - started) / calls * 1e6)
    return timings[0], timings[1]


def run(quick: bool) -> list[Figure]:
    ms = lambda xs, q: round(percentile(xs, q) * 1000, 2)  # noqa: E731
    figures = []
    for customers in (1_000,) if quick else (10_000, 100_000):
        taps = 20 if quick else 200
        got = asyncio.run(_latencies(customers, taps))
        shown = sum(got["shown"]) / len(got["shown"])
        figures.append(
            figure(
                f"arrival -> staff SSE with suggestions, {customers // 1000}k customers, p50 / p99",
                f"{ms(got['with'], 0.5)} / {ms(got['with'], 0.99)}",
                f"{ms(got['without'], 0.5)} / {ms(got['without'], 0.99)}",
                "ms (baseline: the same taps with the playbook off, interleaved)",
                "p99 < 100 ms",
                f"{taps} NFC taps each way, 50-rule playbook, {shown:.1f} suggestions per card; "
                f"empty-event floor {ms(got['floor'], 0.5)} / {ms(got['floor'], 0.99)} ms",
            )
        )
    fifty, nine = _compute(2_000 if quick else 20_000)
    figures.append(
        figure(
            "suggestion computation per arrival (core)",
            round(fifty, 1),
            round(nine, 1),
            "µs per call (baseline: the 9-rule default playbook)",
            "well under 1 ms",
            "agent.core.suggestions.suggest on varied profiles, one earlier visit",
        )
    )
    return figures


if __name__ == "__main__":
    import sys

    for f in run(quick="--quick" in sys.argv):
        print(f)
