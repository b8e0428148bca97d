"""Small asyncio helpers shared by the long-running jobs."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Coroutine, Iterable
from typing import Any

RECANCEL_EVERY_S = 0.5


async def cancel_and_wait(tasks: Iterable[asyncio.Task[Any]]) -> None:
    """Cancel tasks and wait until every one has finished.

    Cancelling once is not always enough on Python 3.11: `asyncio.wait_for` (used inside
    aiomqtt's publish) can swallow a cancellation that arrives as its inner future completes,
    and the task then runs on to its next await. So cancel again until they are all done.
    """
    pending = {task for task in tasks if not task.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=RECANCEL_EVERY_S)


async def race(*coroutines: Coroutine[Any, Any, object]) -> int:
    """Run coroutines side by side until the first one ends; cancel and reap the others.

    Returns the index of the coroutine that ended first and re-raises its exception, if any.
    If the caller is cancelled, every child is cancelled and awaited too, so no task is left
    running or with an exception nobody retrieved.
    """
    tasks = [asyncio.create_task(c) for c in coroutines]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        await cancel_and_wait(tasks)
        for task in tasks:
            if not task.cancelled():
                task.exception()  # retrieved: a child's error is never "never retrieved"
    first = next(i for i, task in enumerate(tasks) if task in done)
    winner = tasks[first]
    if not winner.cancelled() and winner.exception() is not None:
        raise winner.exception()  # type: ignore[misc]
    return first


# MQTT clients send many small packets (a PUBLISH, then the next before the PUBACK); neither
# paho nor aiomqtt disables Nagle's algorithm, which then holds each small write until the
# previous one is acknowledged: ~40 ms per message with delayed ACKs. Every MQTT client we
# create passes this.
TCP_NODELAY = ((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),)
