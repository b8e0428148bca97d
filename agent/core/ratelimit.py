"""Sliding-window rate limits with bounded memory (times passed in, no clock of its own)."""

from __future__ import annotations

import contextlib
from collections import OrderedDict, deque


class RateLimiter:
    """At most ``limit`` events per ``window_s`` per key; remembers at most ``max_keys`` keys
    (least recently used first out), so a flood of new addresses cannot grow memory."""

    def __init__(self, limit: int, window_s: float, max_keys: int = 10_000) -> None:
        self.limit = limit
        self.window_s = window_s
        self._max_keys = max_keys
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()

    def allow(self, key: str, now: float) -> bool:
        """Count one event for ``key`` if it is within its limit; False (uncounted) if not."""
        hits = self._hits.get(key)
        if hits is None:
            hits = deque()
            self._hits[key] = hits
            if len(self._hits) > self._max_keys:
                self._hits.popitem(last=False)
        else:
            self._hits.move_to_end(key)
        while hits and hits[0] <= now - self.window_s:
            hits.popleft()
        if len(hits) >= self.limit:
            return False
        hits.append(now)
        return True

    def refund(self, key: str, at: float) -> None:
        """Take back the event ``allow(key, at)`` counted: a caller counts an attempt before
        its outcome is known (so concurrent attempts cannot all pass the check first) and
        refunds the ones that turn out not to count. A key forgotten since (evicted, or its
        window passed) has nothing left to refund."""
        hits = self._hits.get(key)
        if hits is None:
            return
        with contextlib.suppress(ValueError):
            hits.remove(at)

    def retry_after(self, key: str, now: float) -> float:
        hits = self._hits.get(key)
        if not hits or len(hits) < self.limit:
            return 0.0
        return max(0.0, hits[0] + self.window_s - now)
