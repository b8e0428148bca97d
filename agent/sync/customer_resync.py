"""Knowing when the broker lost customer records, and getting them back (docs/sync.md).

A subscription to `customers/+` makes the broker replay every retained record, and a broker
may drop part of that replay without a word (mosquitto's `max_queued_messages`, default
1000: a reconnecting store applied 1 020 of 5 000 records). Central keeps a manifest
retained: how many customer topics it keeps and a digest of their versions
(`agent.core.customer_sync`). Once the replay has gone quiet, the agent compares what it
holds with the manifest; when they differ it asks central for its records page by page on
`{p}/stores/{store}/customer_resync` and applies each page from
`{p}/stores/{store}/customer_pages` before asking for the next. One page in flight at a
time, so no broker queue limit can drop a page, however many records the chain keeps.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable

from agent.core.customer_sync import (
    HeldRecords,
    Manifest,
    ReadHeldRecords,
    ResyncPage,
    page_request,
)
from agent.metrics import Metrics
from agent.sync.link import PublishFn
from agent.sync.topics import Topics

_LOGGER = logging.getLogger(__name__)
CommandSink = Callable[[object], Awaitable[object]]
# Applies a page's records the way the inbound batch does; returns how many were applied.
ApplyPage = Callable[[ResyncPage], Awaitable[int]]

# The replay is over when as many customer messages as the manifest announces arrived, or
# when none came for this long (a loaded 2-core machine showed 1 s gaps mid-replay).
SETTLE_S = 3.0
# A page not answered within this is asked for again (central restarting, a lost message).
PAGE_TIMEOUT_S = 10.0


class CustomerResync:
    def __init__(
        self,
        topics: Topics,
        handle: CommandSink,
        metrics: Metrics,
        *,
        settle_s: float = SETTLE_S,
        page_timeout_s: float = PAGE_TIMEOUT_S,
    ) -> None:
        self._topics = topics
        self._handle = handle
        self._metrics = metrics
        self._settle_s = settle_s
        self._page_timeout_s = page_timeout_s
        self.manifest: Manifest | None = None
        self._last_customer_at = time.monotonic()
        self._received = 0  # customer messages since the last subscription
        self._check = asyncio.Event()
        # The page the pass waits for: its cursor, and the future the page handler resolves.
        self._awaiting: tuple[str, asyncio.Future[ResyncPage]] | None = None

    def subscribing(self) -> None:
        """A (re)subscription: the broker replays everything; check again once it is over."""
        self._last_customer_at = time.monotonic()
        self._received = 0
        self._check.set()

    def customers_arrived(self, count: int) -> None:
        self._last_customer_at = time.monotonic()
        self._received += count

    def manifest_arrived(self, manifest: Manifest) -> None:
        self.manifest = manifest
        self._check.set()

    def page_arrived(self, page: ResyncPage) -> bool:
        """True if this is the page the pass waits for (it must then be applied)."""
        if self._awaiting is None or self._awaiting[0] != page.after:
            return False  # an answer to an older request: its records are applied anyway
        future = self._awaiting[1]
        if not future.done():
            future.set_result(page)
        return True

    async def run(self, publish: PublishFn) -> None:
        """A connection job (agent.sync.link): checks and recovers while connected."""
        while True:
            await self._check.wait()
            self._check.clear()
            manifest = self.manifest
            if manifest is None or manifest.digest is None:
                continue  # no manifest yet, or the count-only form: the behind metric says it
            await self._settled(manifest)
            held = await self._held()
            if held.matches(manifest):
                self._metrics.customer_records_missing.set(0)
                self._metrics.customer_manifest_match.set(1)
                continue
            missing = max(0, manifest.records - held.records)
            self._metrics.customer_records_missing.set(missing)
            self._metrics.customer_manifest_match.set(0)
            _LOGGER.warning(
                "customer records differ from central's manifest (%d held, %d announced):"
                " asking central for them",
                held.records,
                manifest.records,
            )
            await self._recover(publish)
            held = await self._held()
            self._metrics.customer_manifest_match.set(int(held.matches(manifest)))
            if not held.matches(manifest):
                # Records central no longer keeps retained but this store still holds (a
                # cleared topic removes nothing here), or the manifest changed meanwhile.
                _LOGGER.warning(
                    "after the resync pass %d records held, %d announced; not asking again"
                    " until the manifest changes or the agent reconnects",
                    held.records,
                    manifest.records,
                )

    async def _held(self) -> HeldRecords:
        held = await self._handle(ReadHeldRecords())
        if not isinstance(held, HeldRecords):
            raise TypeError(f"ReadHeldRecords answered {type(held).__name__}")
        return held

    async def _settled(self, manifest: Manifest) -> None:
        # Polls a timestamp the dispatcher moves with every batch: a wake-up per message
        # would cost more than one check per remaining quiet period.
        while True:
            quiet = time.monotonic() - self._last_customer_at
            if quiet >= self._settle_s or self._received >= manifest.records:
                return
            await asyncio.sleep(self._settle_s - quiet)

    async def _recover(self, publish: PublishFn) -> None:
        self._metrics.customer_resyncs.inc()
        loop = asyncio.get_running_loop()
        cursor = ""
        pages = 0
        while True:
            future: asyncio.Future[ResyncPage] = loop.create_future()
            self._awaiting = (cursor, future)
            request = json.dumps(page_request(cursor)).encode("utf-8")
            await publish(self._topics.customer_resync, request)
            try:
                page = await asyncio.wait_for(future, self._page_timeout_s)
            except TimeoutError:
                _LOGGER.warning("no resync page after %r from central; asking again", cursor)
                continue
            finally:
                self._awaiting = None
            pages += 1
            if page.next is None:
                _LOGGER.info("customer resync pass done: %d pages", pages)
                return
            cursor = page.next
