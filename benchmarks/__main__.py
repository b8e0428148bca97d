"""Run every benchmark: `python -m benchmarks [--quick] [--only NAME ...] [--write]`.

Each benchmark compares our figure with a baseline measured in the same run (another
library, a naive version, or the theoretical floor), because these machines are noisy.
`--write` rewrites benchmarks/RESULTS.md with the table and the command that produced it.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import os
import platform
import sys
import time
import traceback
from dataclasses import asdict
from pathlib import Path

from benchmarks.common import Figure, figure

BENCHMARKS = {
    "outbox_drain": "benchmarks.outbox_drain",
    "queue_joins": "benchmarks.queue_joins",
    "call_latency": "benchmarks.call_latency",
    "queue_day": "benchmarks.queue_day",
    "ble_ingest": "benchmarks.ble_ingest",
    "ble_handler_path": "benchmarks.ble_handler_path",
    "ble_end_to_end": "benchmarks.ble_end_to_end",
    "loop_lag": "benchmarks.loop_lag",
    "customer_memory": "benchmarks.customer_memory",
    "arrival_latency": "benchmarks.arrival_latency",
    "suggestions": "benchmarks.suggestions",
    "push_latency": "benchmarks.push_latency",
    "footfall": "benchmarks.footfall",
    "footprint": "benchmarks.footprint",
    "qr_decode": "benchmarks.qr_decode",
    "fleet": "benchmarks.fleet",
    "manager_report": "benchmarks.manager_report",
    "customer_resync": "benchmarks.customer_resync",
    "fanout": "benchmarks.fanout",
    "central_ingest": "benchmarks.central_ingest",
    "soak_memory": "benchmarks.soak_memory",
}
RESULTS = Path(__file__).parent / "RESULTS.md"
FOOTER = (
    "What these figures mean on a Raspberry Pi, and how to run the suite on one: "
    "[README.md](README.md#raspberry-pi). The profile of the hottest path and what changed "
    "because of it: [PROFILE.md](PROFILE.md)."
)


def _as_figure(item: Figure | dict[str, object]) -> Figure:
    if isinstance(item, Figure):
        return item
    return figure(
        str(item["name"]),
        item["ours"],  # type: ignore[arg-type]
        item["baseline"],  # type: ignore[arg-type]
        str(item["unit"]),
        str(item["target"]),
        str(item.get("note", "")),
    )


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--quick", action="store_true", help="small sizes (CI), no targets")
    parser.add_argument("--only", nargs="*", choices=sorted(BENCHMARKS), default=None)
    parser.add_argument("--write", action="store_true", help="rewrite benchmarks/RESULTS.md")
    args = parser.parse_args()
    names = args.only or list(BENCHMARKS)
    results: list[tuple[str, Figure]] = []
    failed: list[str] = []
    for name in names:
        started = time.perf_counter()
        try:
            module = importlib.import_module(BENCHMARKS[name])
            figures = [_as_figure(f) for f in module.run(args.quick)]
        except Exception:  # a broken benchmark must not hide the others
            traceback.print_exc()
            failed.append(name)
            continue
        for f in figures:
            results.append((name, f))
            print(
                f"[{name}] {f.name}: ours {f.ours} | baseline {f.baseline} | ratio {f.ratio or '-'}"
                f" | {f.unit} | target {f.target}",
                flush=True,
            )
        print(f"[{name}] done in {time.perf_counter() - started:.1f} s", flush=True)
    if args.write:
        RESULTS.write_text(_markdown(results, args), encoding="utf-8")
        print(f"wrote {RESULTS}")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def _markdown(results: list[tuple[str, Figure]], args: argparse.Namespace) -> str:
    command = (
        "python -m benchmarks"
        + (" --quick" if args.quick else "")
        + (f" --only {' '.join(args.only)}" if args.only else "")
        + " --write"
    )
    lines = [
        "# Benchmark results",
        "",
        f"Command: `{command}` (or `./dev bench --write`)  ",
        f"Date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC  ",
        f"Machine: {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.machine()} ({platform.platform(terse=True)})",
        "",
        "Each figure is compared with a baseline measured in the same run; the ratio is "
        "ours / baseline. Targets are for this 2-vCPU machine.",
        "",
        "| benchmark | figure | ours | baseline | ratio | unit | target | note |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, f in results:
        row = asdict(f)
        lines.append(
            f"| {name} | {row['name']} | {row['ours']} | {row['baseline']} | {row['ratio'] or '-'} "
            f"| {row['unit']} | {row['target']} | {row['note']} |"
        )
    lines += ["", FOOTER]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
