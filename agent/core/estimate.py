"""Wait estimates for a virtual queue, shown to customers as a range.

    expected = remaining service of those being served / servers
             + (people ahead / servers) x service time

Service time is a trimmed mean over recent services (a configured default until there are
enough samples). The estimate is cross-checked with recent throughput (people called per
minute), and the range is built from the two so that it leans towards the longer wait:
telling someone "10 minutes" and making them wait 25 costs more goodwill than the reverse.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

MIN_SAMPLES = 5
THROUGHPUT_WINDOW_S = 1800.0
MIN_THROUGHPUT_CALLS = 4


@dataclass(frozen=True, slots=True)
class WaitRange:
    low_s: int
    high_s: int

    def as_json(self) -> dict[str, int]:
        return {"low_s": self.low_s, "high_s": self.high_s}


def trimmed_mean(values: list[float], trim: float = 0.1) -> float:
    ordered = sorted(values)
    cut = int(len(ordered) * trim)
    kept = ordered[cut : len(ordered) - cut] or ordered
    return sum(kept) / len(kept)


class WaitEstimator:
    def __init__(self, default_service_s: float, servers: int, samples: int = 30) -> None:
        self._default_service_s = default_service_s
        self._servers = max(1, servers)
        # Time a counter spends per call: a service, or the wait before marking a no-show.
        self._per_call: deque[float] = deque(maxlen=samples)
        # Gaps between calls made while people were still waiting: what the counters
        # actually achieve. Gaps after a call that emptied the queue measure demand, not
        # service, so they are left out.
        self._gaps: deque[tuple[float, float]] = deque()
        self._last_call: tuple[float, bool] | None = None
        # What the samples give, kept until they change: every waiting ticket's estimate
        # reads both, once per change of the queue for each watching phone and again for the
        # tablets' view (sorting the samples per ticket was a share of issue 17's fan-out).
        self._service_s: float | None = None
        self._mean_gap: float | None = None

    def record_service(self, service_s: float) -> None:
        if 0 < service_s < 4 * 3600:  # a ticket left open overnight is not a service time
            self._per_call.append(service_s)
            self._service_s = None

    def record_no_show(self, waited_s: float) -> None:
        if 0 <= waited_s < 4 * 3600:
            self._per_call.append(waited_s)
            self._service_s = None

    def forget(self, per_call_s: float) -> None:
        """An undone served or no-show: its sample was not a time per call after all."""
        for index in range(len(self._per_call) - 1, -1, -1):
            if self._per_call[index] == per_call_s:
                del self._per_call[index]
                self._service_s = None
                return

    def record_call(self, at: float, *, backlog: bool = True) -> None:
        """A call at monotonic time ``at``; ``backlog``: people were still waiting after it."""
        if self._last_call is not None and self._last_call[1]:
            self._gaps.append((at, at - self._last_call[0]))
            self._mean_gap = None
        self._last_call = (at, backlog)

    def service_time(self) -> float:
        if len(self._per_call) < MIN_SAMPLES:
            return self._default_service_s
        if self._service_s is None:
            self._service_s = trimmed_mean(list(self._per_call))
        return self._service_s

    def throughput(self, now: float) -> float | None:
        """Calls per second while there was a backlog, over the recent window."""
        while self._gaps and self._gaps[0][0] < now - THROUGHPUT_WINDOW_S:
            self._gaps.popleft()
            self._mean_gap = None
        if len(self._gaps) < MIN_THROUGHPUT_CALLS:
            return None
        if self._mean_gap is None:
            self._mean_gap = sum(gap for _, gap in self._gaps) / len(self._gaps)
        return 1.0 / max(self._mean_gap, 1.0)

    def estimate(self, ahead: int, in_service_elapsed: list[float], now: float) -> WaitRange:
        """Wait until called for someone with ``ahead`` people before them."""
        return self.estimates((ahead,), in_service_elapsed, now)[0]

    def estimates(
        self, aheads: Iterable[int], in_service_elapsed: list[float], now: float
    ) -> list[WaitRange]:
        """`estimate` for each of ``aheads``, what they share (the service time, the counters'
        remaining service, the throughput) worked out once: a 500-ticket line asks for 500 at
        each change, and per ticket that was a tenth of a call's fan-out (issue 17)."""
        service = self.service_time()
        servers = max(self._servers, len(in_service_elapsed))
        busy = len(in_service_elapsed)
        # Until a counter frees up: the soonest expected end among busy counters, if all are.
        remaining = 0.0
        if busy >= servers:
            remaining = min(max(0.0, service - e) for e in in_service_elapsed) or service / 4
        rate = self.throughput(now)
        spread = 0.15 * service
        ranges = []
        for ahead in aheads:
            model = remaining + ahead / servers * service
            if not rate:
                low, high = 0.85 * model, 1.2 * model + spread
            else:
                observed = ahead / rate + remaining
                low = 0.85 * min(model, observed)
                high = 1.15 * max(model, observed) + spread
            high = max(high, low + 60.0)
            ranges.append(WaitRange(_round_down(low), _round_up(high)))
        return ranges


def _round_down(seconds: float) -> int:
    return int(math.floor(max(0.0, seconds) / 60.0) * 60)


def _round_up(seconds: float) -> int:
    return int(math.ceil(max(0.0, seconds) / 60.0) * 60)


@dataclass
class AccuracyTracker:
    """Predicted vs actual wait of called tickets: mean absolute error, under-estimates."""

    window: int = 200

    def __post_init__(self) -> None:
        self._errors: deque[float] = deque(maxlen=self.window)
        self._under: deque[bool] = deque(maxlen=self.window)

    def record(self, predicted: WaitRange, actual_s: float) -> None:
        middle = (predicted.low_s + predicted.high_s) / 2
        self._errors.append(abs(actual_s - middle))
        self._under.append(actual_s > predicted.high_s)

    @property
    def count(self) -> int:
        return len(self._errors)

    def mean_absolute_error_s(self) -> float | None:
        return sum(self._errors) / len(self._errors) if self._errors else None

    def underestimate_share(self) -> float | None:
        return sum(self._under) / len(self._under) if self._under else None
