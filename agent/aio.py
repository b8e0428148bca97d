"""Small asyncio helpers shared by the long-running jobs."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any


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
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    first = next(i for i, task in enumerate(tasks) if task in done)
    winner = tasks[first]
    if not winner.cancelled() and winner.exception() is not None:
        raise winner.exception()  # type: ignore[misc]
    return first
