"""Helpers for recognition tests: configs with devices, a staff-stream listener, records."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from collections.abc import AsyncIterator
from typing import Any

import httpx

from agent.core.customers import EidCredential
from simulators.customers import demo_customer

DEVICES = """
[recognition]
door_rssi_dbm = -75
arrive_after_s = 0.5
leave_after_s = 5
alert_cooldown_s = 600

[[devices]]
kind = "ble"
adapter = "simulated"

[[devices]]
kind = "nfc"
adapter = "simulated"
"""


def customer(index: int, *, staff_profile: bool = True, recognition: bool = True) -> dict[str, Any]:
    record = demo_customer(random.Random(index), index, version=1)
    record["display_name"] = f"Customer {index}"
    record["consent"] = {"recognition": recognition, "staff_profile": staff_profile}
    record["profile"] = {
        "tier": "gold",
        "notes": "likes green",
        "preferences": ["tea"],
        "basket": [],
    }
    return record


def credential(record: dict[str, Any]) -> EidCredential:
    eid = record["credentials"]["eid"]
    return EidCredential(bytes.fromhex(eid["identity_key"]), eid["rotation_exponent"], eid["epoch"])


class StaffStream:
    """Collects the staff SSE events of one paired tablet."""

    def __init__(self, client: httpx.AsyncClient, headers: dict[str, str]) -> None:
        self.events: list[tuple[str, Any]] = []
        self._client = client
        self._headers = headers
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> StaffStream:
        self._task = asyncio.create_task(self._run())
        await asyncio.sleep(0.2)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _run(self) -> None:
        async with self._client.stream("GET", "/api/v1/staff/stream", headers=self._headers) as s:
            event = None
            async for line in s.aiter_lines():
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: ") and event:
                    self.events.append((event, json.loads(line[6:])))

    def of(self, name: str) -> list[Any]:
        """The events of this name, each alert once: an alert raised while the stream opens
        comes in its snapshot and live (the hub's "sent twice, never lost"), and the tablet
        keeps one card per `alert_id` (staff_alerts.js), so this does too."""
        found: list[Any] = []
        seen: set[str] = set()
        for event, data in self.events:
            if event != name:
                continue
            alert_id = (
                data.get("alert_id") if name == "arrival" and isinstance(data, dict) else None
            )
            if alert_id is not None:
                if alert_id in seen:
                    continue
                seen.add(alert_id)
            found.append(data)
        return found


async def lines(stream: AsyncIterator[str]) -> list[str]:
    return [line async for line in stream]
