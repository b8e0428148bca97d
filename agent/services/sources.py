"""Supervision of device sources: restart on failure, and a watchdog for silent scanners.

Long BLE scans are known to stop silently after hours (bleak #887): a source that has
delivered nothing for `watchdog_s` is closed and opened again. A source that fails is retried
with backoff. Handlers' own errors are logged and counted, never allowed to stop a source.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TypeVar

from agent.core.ports import BatchedReadingSource, ReadingSource
from agent.metrics import Metrics
from agent.sync.backoff import Backoff

_LOGGER = logging.getLogger(__name__)
T = TypeVar("T")


class _Silent(Exception):
    """The watchdog fired."""


async def supervise(
    name: str,
    factory: Callable[[], ReadingSource[T]],
    handle: Callable[[T], Awaitable[None]],
    stop: asyncio.Event,
    metrics: Metrics,
    *,
    watchdog_s: float | None = None,
    rng: random.Random | None = None,
    handle_batch: Callable[[Sequence[T]], Awaitable[None]] | None = None,
) -> None:
    backoff = Backoff(0.5, 30.0, rng or random.Random())
    while not stop.is_set():
        reason = "ended"
        try:
            async with factory() as source:
                await _pump(source, handle, watchdog_s, backoff, handle_batch)
        except _Silent:
            reason = "watchdog"
            _LOGGER.warning("%s heard nothing for %.0f s; restarting it", name, watchdog_s)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - any device failure means: restart it
            reason = "failure"
            _LOGGER.warning("%s failed: %s; restarting it", name, exc)
        metrics.scanner_restarts.labels(source=name, reason=reason).inc()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=backoff.next_delay())


async def _pump(
    source: ReadingSource[T],
    handle: Callable[[T], Awaitable[None]],
    watchdog_s: float | None,
    backoff: Backoff,
    handle_batch: Callable[[Sequence[T]], Awaitable[None]] | None = None,
) -> None:
    # A source that can hand over what has piled up at once (BatchedReadingSource) is read
    # a batch at a time: the watchdog's `wait_for` per reading was, with the adapter's own
    # wait, most of the cost of an advertisement through a broker (benchmarks/PROFILE.md).
    batches = _batches(source).__aiter__()
    while True:
        try:
            batch = await asyncio.wait_for(anext(batches), timeout=watchdog_s)
        except TimeoutError:
            raise _Silent from None
        except StopAsyncIteration:
            return
        backoff.reset()
        if handle_batch is not None:
            # One call per batch (at thousands of advertisements a second, a coroutine per
            # reading was a measurable share); the handler keeps one reading's error from
            # losing the others.
            try:
                await handle_batch(batch)
            except Exception:
                _LOGGER.exception("handling readings from %s failed", source.name)
            continue
        for reading in batch:
            try:
                await handle(reading)
            except Exception:
                _LOGGER.exception("handling a reading from %s failed", source.name)


async def _batches(source: ReadingSource[T]) -> AsyncIterator[Sequence[T]]:
    if isinstance(source, BatchedReadingSource):
        async for batch in source.batches():
            yield batch
    else:
        async for reading in source.readings():
            yield (reading,)
