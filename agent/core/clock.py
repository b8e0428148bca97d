"""Clocks: the system one used in production and a manual one for tests and simulations."""

from __future__ import annotations

import functools
import time
from datetime import UTC, datetime, timedelta


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()


class ManualClock:
    """A clock that moves only when told to (``advance``); both readings move together."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
        self._mono = 1000.0

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)
        self._mono += seconds


def rfc3339(moment: datetime) -> str:
    """UTC, millisecond precision, `Z` suffix: the one timestamp format on the wire."""
    if moment.tzinfo is None:  # read as local time, which the process may change: not kept
        return _utc_text(moment)
    return _known_utc_text(moment)


def _utc_text(moment: datetime) -> str:
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


# A ticket's times are written again on every change of its queue, once per watching phone
# and in the tablets' view (3.6 % of the samples of issue 17's fan-out, benchmarks/
# PROFILE.md); the same instant always gives the same text, so recent instants' are kept.
_known_utc_text = functools.lru_cache(maxsize=4096)(_utc_text)
