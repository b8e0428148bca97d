"""The device supervisor: watchdog restarts a silent source, failures are retried."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from types import TracebackType
from typing import Self

from agent.metrics import Metrics
from agent.services.sources import supervise


class ScriptedSource:
    """A source that yields its script, then either goes silent or fails."""

    opened = 0

    def __init__(self, script: list[int], then: str) -> None:
        self.name = "scripted"
        self._script = script
        self._then = then

    async def __aenter__(self) -> Self:
        ScriptedSource.opened += 1
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    async def readings(self) -> AsyncIterator[int]:
        for item in self._script:
            yield item
        if self._then == "fail":
            raise OSError("radio vanished")
        await asyncio.sleep(3600)  # silent, like a BlueZ scan that stopped


async def run_for(seconds: float, factory, handle, watchdog_s=None) -> Metrics:  # type: ignore[no-untyped-def]
    metrics = Metrics()
    stop = asyncio.Event()
    task = asyncio.create_task(
        supervise("scripted", factory, handle, stop, metrics, watchdog_s=watchdog_s)
    )
    await asyncio.sleep(seconds)
    stop.set()
    await asyncio.wait_for(task, 5)
    return metrics


async def test_watchdog_restarts_a_silent_source() -> None:
    ScriptedSource.opened = 0
    seen: list[int] = []

    async def handle(item: int) -> None:
        seen.append(item)

    metrics = await run_for(1.5, lambda: ScriptedSource([1, 2], "silent"), handle, watchdog_s=0.2)
    assert ScriptedSource.opened >= 2
    assert seen[:4] == [1, 2, 1, 2]
    restarts = metrics.registry.get_sample_value(
        "retail_edge_scanner_restarts_total", {"source": "scripted", "reason": "watchdog"}
    )
    assert restarts is not None and restarts >= 1


async def test_a_failing_source_is_retried_and_handler_errors_do_not_stop_it() -> None:
    ScriptedSource.opened = 0
    seen: list[int] = []

    async def handle(item: int) -> None:
        seen.append(item)
        if item == 1:
            raise ValueError("a bug in a handler")

    metrics = await run_for(1.5, lambda: ScriptedSource([1, 2], "fail"), handle)
    assert ScriptedSource.opened >= 2 and seen[:2] == [1, 2]
    failures = metrics.registry.get_sample_value(
        "retail_edge_scanner_restarts_total", {"source": "scripted", "reason": "failure"}
    )
    assert failures is not None and failures >= 1


class BatchedSource(ScriptedSource):
    """Hands its script over a batch at a time, as the mqtt-proxy adapter does."""

    async def batches(self) -> AsyncIterator[list[int]]:
        yield self._script[:2]
        yield self._script[2:]
        await asyncio.sleep(3600)

    async def readings(self) -> AsyncIterator[int]:
        raise AssertionError("the supervisor should read this source by batches")
        yield 0  # pragma: no cover - makes this an async generator


async def test_a_batched_source_is_read_by_batches_and_one_bad_reading_spoils_none_else() -> None:
    seen: list[int] = []

    async def handle(item: int) -> None:
        seen.append(item)
        if item == 2:
            raise ValueError("a bug in a handler")

    await run_for(0.3, lambda: BatchedSource([1, 2, 3], "silent"), handle, watchdog_s=0.2)
    assert seen[:3] == [1, 2, 3]


async def test_a_batch_handler_gets_each_batch_whole_and_its_errors_stop_nothing() -> None:
    batches: list[list[int]] = []

    async def handle(item: int) -> None:
        raise AssertionError("with a batch handler, readings are not handled one by one")

    async def handle_batch(batch: Sequence[int]) -> None:
        batches.append(list(batch))
        if batch[0] == 1:
            raise ValueError("a bug in a handler")

    metrics = Metrics()
    stop = asyncio.Event()
    task = asyncio.create_task(
        supervise(
            "scripted",
            lambda: BatchedSource([1, 2, 3], "silent"),
            handle,
            stop,
            metrics,
            watchdog_s=0.2,
            handle_batch=handle_batch,
        )
    )
    await asyncio.sleep(0.3)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert batches[:2] == [[1, 2], [3]]
