"""The doctor's result type and the order its checks run in."""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from pathlib import Path

from agent.config.loader import load_config
from agent.errors import ConfigError


class Outcome(enum.Enum):
    OK = "ok"
    WARN = "warn"
    FAIL = "FAIL"
    SKIP = "skip"


@dataclass(frozen=True, slots=True)
class Check:
    name: str  # what was checked: "config", "storage", "broker", "ble", "camera", ...
    outcome: Outcome
    detail: str  # what was found, with the names and numbers that matter
    fix: str = ""  # for a failure or warning: what to do about it

    def line(self) -> str:
        fix = f" -> fix: {self.fix}" if self.fix else ""
        return f"{self.outcome.value:<4}  {self.name:<8}  {self.detail}{fix}"


# The checks `--skip` may leave out (config is never skipped: every other check reads it).
CHECK_NAMES = ("storage", "broker", "ble", "camera", "nfc", "gpio", "clock")


async def run_doctor(
    path: Path, *, skip: Collection[str] = (), min_free_mb: int = 100
) -> list[Check]:
    """Run every check for the config at ``path`` (the config first: nothing else can be
    judged without it) and return their results in order."""
    from agent.doctor.hardware import ble_checks, camera_checks, gpio_checks, nfc_checks
    from agent.doctor.system import broker_checks, clock_check, storage_check

    try:
        config = load_config(path)
    except ConfigError as exc:
        return [
            Check(
                "config",
                Outcome.FAIL,
                f"{path}: {problem}" if not problem.startswith(str(path)) else problem,
                "correct the key named (docs/configuration.md); `retail-edge check-config` "
                "checks the file alone",
            )
            for problem in exc.problems
        ]
    results = [
        Check(
            "config",
            Outcome.OK,
            f"{path}: store {config.store.id}, {len(config.queues)} queues, "
            f"{len(config.devices)} devices",
        )
    ]
    steps: list[tuple[str, Callable[[], Awaitable[list[Check]]]]] = [
        ("storage", lambda: _one(asyncio.to_thread(storage_check, config, min_free_mb))),
        ("broker", lambda: broker_checks(config)),
        ("ble", lambda: ble_checks(config)),
        ("camera", lambda: camera_checks(config)),
        ("nfc", lambda: asyncio.to_thread(nfc_checks, config)),
        ("gpio", lambda: asyncio.to_thread(gpio_checks, config)),
        ("clock", lambda: _one(asyncio.to_thread(clock_check))),
    ]
    for name, step in steps:
        if name in skip:
            continue
        try:
            results.extend(await step())
        except Exception as exc:  # noqa: BLE001 - a check that breaks is a line, not a crash
            why = f"the check itself failed: {type(exc).__name__}: {exc}"
            results.append(Check(name, Outcome.FAIL, why, "a bug in the doctor: report this line"))
    return results


async def _one(check: Awaitable[Check]) -> list[Check]:
    return [await check]
