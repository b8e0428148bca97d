"""The agent's lifecycle: start every job, run until asked to stop, shut down cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import logging
import sqlite3
from typing import TYPE_CHECKING

from agent import __version__
from agent.aio import cancel_and_wait
from agent.core.events import AgentStarted
from agent.services.sources import supervise
from agent.systemd_notify import notify_ready, notify_stopping, watchdog_loop

if TYPE_CHECKING:  # bootstrap builds the daemon, so the daemon cannot import it at run time
    from agent.bootstrap.components import Components
    from agent.web.server import WebServer

_LOGGER = logging.getLogger(__name__)
HOUSEKEEPING_INTERVAL_S = 60.0
QUEUE_TIMER_S = 5.0
WATCHDOG_PROBE_S = 10.0


class AgentDaemon:
    def __init__(self, components: Components, web: WebServer) -> None:
        """Built by `agent.bootstrap.assemble`, which also builds the web app it serves."""
        self.c = components
        self.web = web
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = False

    async def start(self) -> None:
        await self.c.uow.record([AgentStarted(version=__version__)])
        await self.c.queues.load()
        await self.c.customers.load()
        await self.c.recognition.load()
        await self.c.footfall.load()
        await self.c.push.load()
        await self._housekeeping_once()
        await self._return_start_up_memory()
        await self.web.start()
        if self.c.link is not None:
            self._tasks.append(asyncio.create_task(self.c.link.run(self._stop), name="mqtt"))
        else:
            _LOGGER.warning("no [mqtt] section: sync is disabled, events stay in the outbox")
        self._tasks.append(asyncio.create_task(self.c.push.run(self._stop), name="push"))
        self._tasks.append(asyncio.create_task(self.c.printing.run(self._stop), name="printer"))
        if self.c.home_assistant is not None:
            bridge = self.c.home_assistant.run(self._stop)
            self._tasks.append(asyncio.create_task(bridge, name="home-assistant"))
        self._tasks.append(asyncio.create_task(self._housekeeping(), name="housekeeping"))
        self._tasks.append(asyncio.create_task(self._queue_timer(), name="queue-timer"))
        self._tasks.append(asyncio.create_task(self.c.footfall.run(self._stop), name="footfall"))
        self._tasks.append(asyncio.create_task(self._recognition_timer(), name="recognition"))
        self._tasks.append(
            # `retail-edge revoke` runs in another process: open streams end within 5 s.
            asyncio.create_task(self.c.staff.watch_revocations(self._stop), name="revocations")
        )
        for spec in self.c.sources:
            self._tasks.append(
                asyncio.create_task(
                    supervise(
                        spec.name,
                        spec.factory,
                        spec.handle,
                        self._stop,
                        self.c.metrics,
                        watchdog_s=spec.watchdog_s,
                        handle_batch=spec.handle_batch,
                    ),
                    name=spec.name,
                )
            )
        # Under systemd (Type=notify): started from here on, and a watchdog that pings only
        # while the store thread answers, so a hung agent is restarted; a full disk is not a
        # hang (a restart would not free it) and /healthz reports it instead.
        self._tasks.append(
            asyncio.create_task(watchdog_loop(self._stop, self._responsive), name="watchdog")
        )
        notify_ready()
        _LOGGER.info("agent for store %s started", self.c.config.store.id)

    async def _responsive(self) -> bool:
        try:
            await asyncio.wait_for(self.c.health.report(), timeout=WATCHDOG_PROBE_S)
        except TimeoutError:
            return False
        return True

    def request_stop(self) -> None:
        self._stop.set()

    async def wait_stopped(self) -> None:
        await self._stop.wait()

    async def stop(self) -> None:
        """Publish `offline`, stop serving, close the database (WAL checkpointed). Idempotent."""
        if self._closed:
            return
        self._closed = True
        notify_stopping()
        self._stop.set()
        link_task = next((t for t in self._tasks if t.get_name() == "mqtt"), None)
        if link_task is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(link_task), timeout=8)
        await cancel_and_wait(self._tasks)
        await self.web.stop()
        # Reactions to what was committed last (alerts withdrawn, tickets unlinked) finish
        # before the database closes.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.c.recognition.idle(), timeout=5)  # arrivals in flight
            await asyncio.wait_for(self.c.bus.idle(), timeout=5)
        self.c.runner.call(self.c.database.close)
        self.c.runner.close()
        _LOGGER.info("agent stopped")

    async def _housekeeping(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=HOUSEKEEPING_INTERVAL_S)
            await self._housekeeping_once()

    async def _recognition_timer(self) -> None:
        """Departures and EID period roll-overs, once a second."""
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=1.0)
            try:
                await self.c.recognition.tick()
            except sqlite3.Error as exc:
                _LOGGER.error("recognition could not write the database: %s", exc)  # noqa: TRY400

    async def _queue_timer(self) -> None:
        """Called customers who never came become no-shows after the configured time."""
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=QUEUE_TIMER_S)
            try:
                await self.c.queues.expire_overdue_calls()
            except sqlite3.Error as exc:
                _LOGGER.error("queue timer could not write the database: %s", exc)  # noqa: TRY400

    async def _return_start_up_memory(self) -> None:
        """What the loads read is garbage now: SQLite's page cache holds the customer pages
        they scanned (up to its 2 MB), and the heap the freed pages of parsed records. Both
        are handed back, measured ~2.4 MB of RSS at 10 000 customers
        (benchmarks/customer_memory.py); the cache fills again with what is really used."""
        await self.c.uow.read(self.c.database.release_memory)
        gc.collect()
        release_free_heap()

    async def _housekeeping_once(self) -> None:
        storage = self.c.config.storage
        try:
            dropped = await self.c.runner.run(
                self.c.outbox.enforce_retention,
                storage.outbox_max_events,
                storage.outbox_max_age_s,
            )
            await self.c.runner.run(self.c.outbox.purge_sent)
            await self.c.queues.purge()
            rc = self.c.config.recognition
            await self.c.recognition.purge(rc.visit_retention_days, rc.alert_retention_h)
            self.c.health.housekeeping_failed(None)
        except sqlite3.OperationalError as exc:
            self.c.health.housekeeping_failed(f"database write failed: {exc}")
            self.c.metrics.storage_errors.inc()
            _LOGGER.error("housekeeping could not write the database: %s", exc)  # noqa: TRY400
            return
        for event in dropped:
            self.c.metrics.outbox_dropped.labels(reason=event.reason).inc(event.count)
        if dropped:
            self.c.uow.outbox_wakeup.set()


async def run_daemon(daemon: AgentDaemon) -> None:
    """Run until SIGTERM/SIGINT (`retail-edge run`)."""
    import signal

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, daemon.request_stop)
    try:
        await daemon.start()
        tune_garbage_collector()
        await daemon.wait_stopped()
    finally:
        await daemon.stop()


# Generation thresholds once started (CPython's default is 700, 10, 10). A join allocates a
# few hundred container objects, so the default ran a young collection every few joins and a
# full one, traversing every object of the start-up heap (FastAPI's routes, pydantic's
# models, the customer tables), often enough to set the joins' p99: 55.7 ms with the
# collector, 23.4 ms without (issue 17). Most garbage here is freed by reference counting;
# what the collector finds (cycles) waits a little longer, a few MB at most.
GC_THRESHOLDS = (20_000, 50, 100)


def release_free_heap() -> None:
    """glibc keeps memory that was freed inside its heaps (a 4 KiB page stays resident while
    any chunk on it is live, or until the top of the heap is free); `malloc_trim(0)` returns
    every free page to the kernel. Not glibc (musl, macOS): nothing to do."""
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return
    trim(0)


def tune_garbage_collector() -> None:
    """After start-up: freeze what start-up built (never collected again, so never traversed
    again) and collect less often (`retail-edge run` only; tests keep the defaults)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
