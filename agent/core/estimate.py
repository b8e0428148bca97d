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
        self._service: deque[float] = deque(maxlen=samples)
        self._calls: deque[float] = deque()  # monotonic times of recent calls

    def record_service(self, service_s: float) -> None:
        if 0 < service_s < 4 * 3600:  # a ticket left open overnight is not a service time
            self._service.append(service_s)

    def record_call(self, at: float) -> None:
        self._calls.append(at)

    def service_time(self) -> float:
        if len(self._service) < MIN_SAMPLES:
            return self._default_service_s
        return trimmed_mean(list(self._service))

    def throughput(self, now: float) -> float | None:
        """Calls per second over the recent window, or None with too little history."""
        while self._calls and self._calls[0] < now - THROUGHPUT_WINDOW_S:
            self._calls.popleft()
        if len(self._calls) < MIN_THROUGHPUT_CALLS:
            return None
        span = max(now - self._calls[0], 60.0)
        return len(self._calls) / span

    def estimate(self, ahead: int, in_service_elapsed: list[float], now: float) -> WaitRange:
        """Wait until called for someone with ``ahead`` people before them."""
        service = self.service_time()
        servers = (
            max(self._servers, len(in_service_elapsed)) if in_service_elapsed else (self._servers)
        )
        remaining = sum(max(0.0, service - e) for e in in_service_elapsed) / servers
        model = remaining + ahead / servers * service
        rate = self.throughput(now)
        observed = (ahead + 1) / rate if rate else None
        if observed is None:
            low, high = 0.8 * model, 1.3 * model + 0.25 * service
        else:
            low = 0.8 * min(model, observed)
            high = 1.2 * max(model, observed) + 0.25 * service
        high = max(high, low + 60.0)
        return WaitRange(_round_down(low), _round_up(high))


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
