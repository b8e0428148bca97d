"""A simulated central account service.

It does what the chain's real service does with a store: receives the store's events and
checks them (every `seq` from 1 up, no gaps, duplicates only by `id`), and publishes customer
records and tombstones (retained) on the customers topics.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from agent.aio import TCP_NODELAY, race
from agent.core.customer_sync import PAGE_LIMIT, digest_of, id_hash

_LOGGER = logging.getLogger(__name__)


@dataclass
class StoreLedger:
    """What the central side has received from one store."""

    by_seq: dict[int, dict[str, Any]] = field(default_factory=dict)
    ids: set[str] = field(default_factory=set)
    duplicates: int = 0
    conflicts: int = 0  # same seq with a different id: must never happen
    messages: int = 0
    status: dict[str, Any] | None = None
    # Ranges the store announced as gone for good (`outbox.dropped`): not worth asking for.
    announced: list[tuple[int, int]] = field(default_factory=list)
    # When each unexplained gap was first seen and last asked for (resend requests).
    gap_seen: dict[int, float] = field(default_factory=dict)
    gap_asked: dict[int, float] = field(default_factory=dict)
    resend_requests: int = 0

    def add(self, event: dict[str, Any]) -> None:
        seq = event["seq"]
        if event["id"] in self.ids:
            self.duplicates += 1
            return
        if seq in self.by_seq:
            self.conflicts += 1
            return
        self.ids.add(event["id"])
        self.by_seq[seq] = event
        if event.get("type") == "outbox.dropped":
            data = event.get("data", {})
            self.announced.append((int(data["from_seq"]), int(data["to_seq"])))

    @property
    def max_seq(self) -> int:
        return max(self.by_seq, default=0)

    def gaps(self) -> list[int]:
        """Missing seqs below the highest one received."""
        return [seq for seq in range(1, self.max_seq + 1) if seq not in self.by_seq]

    def unexplained_gaps(self) -> list[tuple[int, int]]:
        """Missing ranges not announced by an `outbox.dropped` event, as (from, to)."""

        def announced(seq: int) -> bool:
            return any(low <= seq <= high for low, high in self.announced)

        ranges: list[tuple[int, int]] = []
        for seq in self.gaps():
            if announced(seq):
                continue
            if ranges and ranges[-1][1] == seq - 1:
                ranges[-1] = (ranges[-1][0], seq)
            else:
                ranges.append((seq, seq))
        return ranges

    def events_of_type(self, event_type: str) -> list[dict[str, Any]]:
        return [e for _, e in sorted(self.by_seq.items()) if e["type"] == event_type]


class CentralService:
    name = "central"

    def __init__(
        self,
        mqtt_url: str,
        topic_prefix: str = "retail/v1",
        client_id: str = "central-simulator",
        *,
        mqtt5: bool = True,
        resend_after_s: float | None = 2.0,
    ) -> None:
        self.client_id = client_id
        self._mqtt5 = mqtt5
        parts = urlsplit(mqtt_url)
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or 1883
        self.prefix = topic_prefix
        self.stores: dict[str, StoreLedger] = {}
        self.malformed = 0
        self.ready = asyncio.Event()
        self._outgoing: asyncio.Queue[tuple[str, bytes, bool]] = asyncio.Queue()
        # A gap older than this is asked for again (extension, docs/sync.md); None: never.
        self._resend_after = resend_after_s
        # What this side keeps retained on the customers topics, by customer id: the manifest
        # is computed from it and resync pages are served from it (extension, docs/sync.md).
        self.customers: dict[str, dict[str, Any]] = {}
        self.page_requests = 0

    def ledger(self, store: str) -> StoreLedger:
        return self.stores.setdefault(store, StoreLedger())

    def publish_customer(self, record: dict[str, Any]) -> None:
        """Queue a customer record or tombstone (retained, like the real service keeps it)."""
        topic = f"{self.prefix}/chain/customers/{record['customer_id']}"
        self.customers[str(record["customer_id"])] = record
        self._outgoing.put_nowait((topic, json.dumps(record).encode(), True))

    def announce_customer_count(self, records: int) -> None:
        """Extension (docs/sync.md): how many customer topics this side keeps retained."""
        topic = f"{self.prefix}/chain/customer_count"
        self._outgoing.put_nowait((topic, json.dumps({"records": records}).encode(), True))

    def publish_playbook(self, playbook: dict[str, Any] | None) -> None:
        """Extension (docs/suggestions.md): the chain's playbook, retained; None clears it."""
        payload = b"" if playbook is None else json.dumps(playbook).encode()
        self._outgoing.put_nowait((f"{self.prefix}/chain/playbook", payload, True))

    def publish_appointments(
        self, store: str, day: str, appointments: list[dict[str, Any]], version: int
    ) -> None:
        """Extension (docs/sync.md): the store's whole list of bookings for ``day``
        (YYYY-MM-DD, store time), retained on that day's topic; a later call with a higher
        ``version`` replaces it (a booking left out, or with `"status": "cancelled"`, is
        cancelled)."""
        topic = f"{self.prefix}/stores/{store}/appointments/{day}"
        body = {"day": day, "version": version, "appointments": appointments}
        self._outgoing.put_nowait((topic, json.dumps(body).encode(), True))

    def publish_sample_day(self, store: str, queue: str, zone: str, *, count: int = 8) -> str:
        """A day of bookings for the demo: one every 20 minutes from 10 minutes ago, with
        check-in codes (`RE-B1.<code>` on the confirmation). Returns the day published."""
        now = datetime.now(ZoneInfo(zone))
        names = ("Camille", "Hugo", "Inès", "Jules", "Manon", "Nathan", "Léa", "Louis")
        bookings = [
            {
                "id": f"demo-{now:%Y%m%d}-{n}",
                "queue": queue,
                "at": (now + timedelta(minutes=20 * n - 10)).isoformat(timespec="seconds"),
                "name": names[n % len(names)],
                "party_size": 1 + n % 2,
                "checkin_code": f"demo-booking-code-{now:%Y%m%d}-{n:02d}",
            }
            for n in range(count)
        ]
        day = now.date().isoformat()
        self.publish_appointments(store, day, bookings, version=int(now.timestamp()))
        return day

    def clear_appointments(self, store: str, day: str) -> None:
        """A day over: its retained list is cleared (an empty retained message)."""
        topic = f"{self.prefix}/stores/{store}/appointments/{day}"
        self._outgoing.put_nowait((topic, b"", True))

    def manifest(self) -> dict[str, Any]:
        """The manifest of what this side keeps retained (agent.core.customer_sync)."""
        held = [(id_hash(cid), int(r["version"])) for cid, r in self.customers.items()]
        return {"records": len(held), "digest": digest_of(held)}

    def announce_manifest(self) -> None:
        """Extension (docs/sync.md): count and digest, retained on the customer_count topic."""
        topic = f"{self.prefix}/chain/customer_count"
        self._outgoing.put_nowait((topic, json.dumps(self.manifest()).encode(), True))

    def customer_page(self, after: str, limit: int) -> dict[str, Any]:
        """The records after cursor ``after`` in customer-id order (the cursor is the last id
        of the previous page); ``next`` is None on the last page."""
        ids = sorted(self.customers)
        start = bisect.bisect_right(ids, after) if after else 0
        chosen = ids[start : start + max(1, min(limit, PAGE_LIMIT))]
        last = start + len(chosen) >= len(ids)
        return {
            "after": after,
            "next": None if last else chosen[-1],
            "records": [self.customers[cid] for cid in chosen],
        }

    def publish_raw(self, topic: str, payload: bytes, retain: bool = False) -> None:
        self._outgoing.put_nowait((topic, payload, retain))

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                async with self._client() as client:
                    await client.subscribe(f"{self.prefix}/stores/+/events", qos=1)
                    await client.subscribe(f"{self.prefix}/stores/+/status", qos=1)
                    await client.subscribe(f"{self.prefix}/stores/+/customer_resync", qos=1)
                    self.ready.set()
                    await self._serve(client, stop)
                    return
            except (aiomqtt.MqttError, OSError) as exc:
                self.ready.clear()
                _LOGGER.info("central simulator: broker unreachable (%s); retrying", exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=0.5)

    def _client(self) -> aiomqtt.Client:
        # A persistent session, like the real service: events published while this side was
        # briefly away are queued by the broker instead of being missed.
        if not self._mqtt5:
            return aiomqtt.Client(
                self._host,
                self._port,
                identifier=self.client_id,
                protocol=aiomqtt.ProtocolVersion.V311,
                clean_session=False,
                timeout=10,
                socket_options=TCP_NODELAY,
            )
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = 24 * 3600
        return aiomqtt.Client(
            self._host,
            self._port,
            identifier=self.client_id,
            protocol=aiomqtt.ProtocolVersion.V5,
            clean_start=False,
            properties=properties,
            timeout=10,
            socket_options=TCP_NODELAY,
        )

    async def _serve(self, client: aiomqtt.Client, stop: asyncio.Event) -> None:
        async def receive() -> None:
            async for message in client.messages:
                self._on_message(message.topic.value, message.payload)

        async def send() -> None:
            while True:
                topic, payload, retain = await self._outgoing.get()
                await client.publish(topic, payload, qos=1, retain=retain)

        await race(stop.wait(), receive(), send(), self._ask_for_gaps())

    def _answer_resync(self, store: str, request: object) -> None:
        if not isinstance(request, dict) or not isinstance(request.get("after"), str):
            self.malformed += 1
            return
        self.page_requests += 1
        limit = request.get("limit")
        page = self.customer_page(request["after"], limit if isinstance(limit, int) else 100)
        topic = f"{self.prefix}/stores/{store}/customer_pages"
        self._outgoing.put_nowait((topic, json.dumps(page).encode(), False))

    async def _ask_for_gaps(self) -> None:
        """Like the real service: a hole in `seq` that does not fill by itself is asked for."""
        if self._resend_after is None:
            await asyncio.Event().wait()
            return
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(min(0.5, self._resend_after / 2))
            now = loop.time()
            for store, ledger in self.stores.items():
                gaps = ledger.unexplained_gaps()
                open_gaps = {low for low, _ in gaps}
                ledger.gap_seen = {k: v for k, v in ledger.gap_seen.items() if k in open_gaps}
                for low, high in gaps:
                    first = ledger.gap_seen.setdefault(low, now)
                    asked = ledger.gap_asked.get(low, -1e9)
                    if now - first < self._resend_after or now - asked < self._resend_after:
                        continue
                    ledger.gap_asked[low] = now
                    ledger.resend_requests += 1
                    _LOGGER.info("central simulator: asking %s for seq %d..%d", store, low, high)
                    request = {"from_seq": low, "to_seq": min(high, low + 9_999)}
                    topic = f"{self.prefix}/stores/{store}/resend"
                    self._outgoing.put_nowait((topic, json.dumps(request).encode(), False))

    def _on_message(self, topic: str, payload: object) -> None:
        parts = topic.split("/")
        store = parts[-2]
        try:
            doc = json.loads(payload if isinstance(payload, bytes | str) else b"")
        except json.JSONDecodeError:
            self.malformed += 1
            return
        if parts[-1] == "customer_resync":
            self._answer_resync(store, doc)
            return
        ledger = self.ledger(store)
        if parts[-1] == "status":
            ledger.status = doc
            return
        ledger.messages += 1
        for event in doc if isinstance(doc, list) else [doc]:
            if not isinstance(event, dict) or "seq" not in event or "id" not in event:
                self.malformed += 1
                continue
            ledger.add(event)
